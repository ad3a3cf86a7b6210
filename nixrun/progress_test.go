package nixrun

import (
	"strings"
	"testing"
)

// The tracker and the log over the real Nix 2.8 captures: what each build
// amounted to, and the error a person is shown.
func TestLogOnRealCaptures(t *testing.T) {
	caps := captures(t)
	for _, tc := range []struct {
		name   string
		ok     bool
		before Progress // after the last line
		after  Progress // after Done(ok)
		reason string
	}{
		{"built", true,
			Progress{Built: 2, Total: 2, Activity: "building cap-ok"},
			Progress{Built: 2, Total: 2, Done: true}, ""},
		{"present", true, Progress{}, Progress{Done: true}, ""},
		{"substituted", true,
			Progress{Downloaded: 1, Downloads: 1, Activity: "copying path cap-ok from file:///tmp/nixcap/cache"},
			Progress{Downloaded: 1, Downloads: 1, Done: true}, ""},
		{"failed", false, Progress{Activity: "building cap-bad"}, Progress{},
			"builder for '/nix/store/7jinq9hix3b7170bpv46qgdhp2v853gr-cap-bad.drv' failed with exit code 3"},
		{"missing", false, Progress{}, Progress{},
			"flake 'path:/tmp/nixcap' does not provide attribute 'packages.x86_64-linux.nope', 'legacyPackages.x86_64-linux.nope' or 'nope'"},
		{"refused", false, Progress{}, Progress{}, "unrecognised flag '--print-out-paths'"},
	} {
		lines := caps[tc.name]
		if len(lines) == 0 {
			t.Fatalf("no capture %q", tc.name)
		}
		var got []Progress
		var raw strings.Builder
		var human []string
		lg := NewLog(Watch{Raw: &raw, Every: 1, Progress: func(p Progress) { got = append(got, p) },
			Line: func(l Line) {
				if h, ok := l.Human(); ok {
					human = append(human, h)
				}
			}})
		for _, l := range lines {
			// Written in odd pieces, as a pipe delivers them.
			s := l + "\n"
			_, _ = lg.Write([]byte(s[:len(s)/3]))
			_, _ = lg.Write([]byte(s[len(s)/3:]))
		}
		if p := lg.Progress(); p != tc.before {
			t.Errorf("%s: progress %+v, want %+v", tc.name, p, tc.before)
		}
		lg.Done(tc.ok)
		if p := got[len(got)-1]; p != tc.after {
			t.Errorf("%s: final %+v, want %+v", tc.name, p, tc.after)
		}
		if raw.String() != strings.Join(lines, "\n")+"\n" {
			t.Errorf("%s: the raw log is not nix's stderr as printed", tc.name)
		}
		e := &Error{Args: []string{"build", "x"}, Messages: lg.Errors()}
		if tc.reason != "" && e.Reason() != tc.reason {
			t.Errorf("%s: reason %q, want %q (errors %q)", tc.name, e.Reason(), tc.reason, lg.Errors())
		}
		if tc.reason == "" && len(lg.Errors()) != 0 {
			t.Errorf("%s: errors in a good build: %q", tc.name, lg.Errors())
		}
		if tc.name == "built" {
			// What `nix build -L -v` shows: -v's level-4 msg (nix sends
			// msgs at the verbosity asked for), the level-3 activities, and
			// the builders' output; not the level-4 "copying '/tmp/nixcap'".
			want := "evaluating file '/nix/store/ws5v5c7zfmr3yc8dvv87ryh08imyh0xm-source/flake.nix'|" +
				"building '/nix/store/j9kcf2x8izbahavzs44r8kw76wim94h3-cap-dep.drv'|dep-building|to-stderr|" +
				"building '/nix/store/pq093vrjgmmmdkyfwa28qkahfy12fq2h-cap-ok.drv'|building-top"
			if got := strings.Join(human, "|"); got != want {
				t.Errorf("human lines\n%s\nwant\n%s", got, want)
			}
		}
	}
}

// Progress of a build that also fetched: counts from the builds and
// copy-paths activities, downloads' bytes summed over open and finished
// transfers, and one count per substituted path (its 108 wraps a 100).
func TestTrackerCountsEachFetchOnce(t *testing.T) {
	var tr Tracker
	for _, l := range []string{
		`@nix {"action":"start","id":2,"level":0,"text":"","type":104}`,
		`@nix {"action":"start","id":3,"level":0,"text":"","type":103}`,
		`@nix {"action":"result","fields":[0,3,0,0],"id":2,"type":105}`,
		`@nix {"action":"result","fields":[0,2,0,0],"id":3,"type":105}`,
		`@nix {"action":"start","fields":["/nix/store/aaa-glibc","https://cache.nixos.org"],"id":6,"level":0,"text":"","type":108}`,
		`@nix {"action":"start","fields":["/nix/store/aaa-glibc","https://cache.nixos.org","local"],"id":7,"level":3,"text":"copying path '/nix/store/aaa-glibc' from 'https://cache.nixos.org'","type":100}`,
		`@nix {"action":"start","fields":["https://cache.nixos.org/nar/x.nar.xz"],"id":8,"level":4,"text":"downloading","type":101}`,
		`@nix {"action":"result","fields":[1048576,4194304,0,0],"id":8,"type":105}`,
		`@nix {"action":"result","fields":[2097152,4194304,0,0],"id":8,"type":105}`,
		`@nix {"action":"stop","id":8}`,
		`@nix {"action":"start","fields":["https://cache.nixos.org/nar/y.nar.xz"],"id":9,"level":4,"text":"downloading","type":101}`,
		`@nix {"action":"result","fields":[1048576,4194304,0,0],"id":9,"type":105}`,
		`@nix {"action":"stop","id":7}`,
		`@nix {"action":"stop","id":6}`,
		`@nix {"action":"start","fields":["/nix/store/bbb-edk2.drv","",1,1],"id":10,"level":3,"text":"building '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-edk2-jetson.drv'","type":105}`,
		`@nix {"action":"result","fields":[1,3,1,0],"id":2,"type":105}`,
		`@nix {"action":"stop","id":999}`,
	} {
		tr.Feed(ParseLine([]byte(l)))
	}
	want := Progress{Built: 1, Total: 3, Running: 1, Downloaded: 1, Downloads: 2, Bytes: 3 << 20, Activity: "building edk2-jetson"}
	if p := tr.Progress(); p != want {
		t.Errorf("%+v\nwant %+v", p, want)
	}
	if s := tr.Progress().Summary(); s != "1/3 built, 1/2 fetched, 3.0 MiB downloaded" {
		t.Errorf("summary %q", s)
	}
	if (Progress{}).Summary() != "" {
		t.Error("an empty progress says something")
	}
}

func TestShorten(t *testing.T) {
	for in, want := range map[string]string{
		"building '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-edk2-jetson.drv'":                 "building edk2-jetson",
		"copying path '/nix/store/crc2n35bbvlbn58fpd79l5zx6ax93zga-cap-ok' from 'file:///tmp/c'": "copying path cap-ok from file:///tmp/c",
		"\x1b[1mbuilding\x1b[0m x": "building x",
		strings.Repeat("é", 100):   strings.Repeat("é", 79) + "…",
	} {
		if got := shorten(in); got != want {
			t.Errorf("shorten(%q) = %q", in, got)
		}
	}
}
