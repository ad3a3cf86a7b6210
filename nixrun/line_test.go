package nixrun

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// captures reads testdata/internal-json-2.8.log: real Nix 2.8.0 stderr,
// by capture name.
func captures(t testing.TB) map[string][]string {
	t.Helper()
	f, err := os.Open("testdata/internal-json-2.8.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	name := ""
	sc := bufio.NewScanner(f) // our own small fixture, not a child's output
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			name, _, _ = strings.Cut(strings.TrimPrefix(l, "## "), ":")
		case strings.HasPrefix(l, "# "):
		case name != "":
			out[name] = append(out[name], l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseLineOnRealAndOddLines(t *testing.T) {
	for _, tc := range []struct {
		line    string
		json    bool
		action  string
		typ     int
		message string
		isError bool
		human   string // "" when Human says false
	}{
		// Real Nix 2.8 lines (testdata/internal-json-2.8.log).
		{`@nix {"action":"start","fields":["/nix/store/j9kcf2x8izbahavzs44r8kw76wim94h3-cap-dep.drv","",1,1],"id":112377819299845,"level":3,"text":"building '/nix/store/j9kcf2x8izbahavzs44r8kw76wim94h3-cap-dep.drv'","type":105}`,
			true, "start", ActBuild, "building '/nix/store/j9kcf2x8izbahavzs44r8kw76wim94h3-cap-dep.drv'", false,
			"building '/nix/store/j9kcf2x8izbahavzs44r8kw76wim94h3-cap-dep.drv'"},
		{`@nix {"action":"result","fields":["dep-building"],"id":112377819299845,"type":101}`,
			true, "result", ResBuildLogLine, "dep-building", false, "dep-building"},
		{`@nix {"action":"result","fields":[1,2,0,0],"id":112377819299842,"type":105}`, true, "result", ResProgress, "", false, ""},
		{`@nix {"action":"start","id":112377819299840,"level":4,"text":"copying '/tmp/nixcap'","type":0}`,
			true, "start", ActUnknown, "copying '/tmp/nixcap'", false, ""},
		{`@nix {"action":"start","id":112377819299841,"level":0,"text":"","type":102}`, true, "start", ActRealise, "", false, ""},
		{`@nix {"action":"msg","level":4,"msg":"evaluating file '/nix/store/ws5v5c7zfmr3yc8dvv87ryh08imyh0xm-source/flake.nix'"}`,
			true, "msg", 0, "evaluating file '/nix/store/ws5v5c7zfmr3yc8dvv87ryh08imyh0xm-source/flake.nix'", false,
			"evaluating file '/nix/store/ws5v5c7zfmr3yc8dvv87ryh08imyh0xm-source/flake.nix'"},
		{`@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m flake '\u001b[35;1mpath:/tmp/nixcap\u001b[0m' does not provide attribute \u001b[35;1m'packages.x86_64-linux.nope', 'legacyPackages.x86_64-linux.nope' or 'nope'\u001b[0m","raw_msg":"x"}`,
			true, "msg", 0, "error: flake 'path:/tmp/nixcap' does not provide attribute 'packages.x86_64-linux.nope', 'legacyPackages.x86_64-linux.nope' or 'nope'", true,
			"error: flake 'path:/tmp/nixcap' does not provide attribute 'packages.x86_64-linux.nope', 'legacyPackages.x86_64-linux.nope' or 'nope'"},
		{`@nix {"action":"stop","id":112377819299845}`, true, "stop", 0, "", false, ""},
		{"error: unrecognised flag '--print-out-paths'", false, "", 0, "error: unrecognised flag '--print-out-paths'", true,
			"error: unrecognised flag '--print-out-paths'"},
		{"warning: the group 'nixbld' specified in 'build-users-group' does not exist", false, "", 0,
			"warning: the group 'nixbld' specified in 'build-users-group' does not exist", false,
			"warning: the group 'nixbld' specified in 'build-users-group' does not exist"},
		// What a newer Nix or a broken stream may send.
		{`@nix {"action":"start","id":5,"level":3,"parent":4,"text":"fetching github:x/y","type":112,"new":true}`,
			true, "start", 112, "fetching github:x/y", false, "fetching github:x/y"},
		{`@nix {"action":"result","fields":[1.5e3,"x"],"id":1,"type":105}`, true, "result", ResProgress, "", false, ""},
		{`@nix {"action":"msg","level":0,"msg":"warning: only a warning"}`, true, "msg", 0, "warning: only a warning", false, "warning: only a warning"},
		{`@nix {"action":"start","id":1`, false, "", 0, `@nix {"action":"start","id":1`, true, `@nix {"action":"start","id":1`},
		{"@nix ", false, "", 0, "@nix ", true, "@nix "},
		{`@nix not json`, false, "", 0, "@nix not json", true, "@nix not json"},
		{`@nix ["an","array"]`, false, "", 0, `@nix ["an","array"]`, true, `@nix ["an","array"]`},
		{"", false, "", 0, "", false, ""},
		{"plain \x1b]52;c;ZXZpbA==\x07text\x1b[2J\r", false, "", 0, "plain text", true, "plain text"},
	} {
		l := ParseLine([]byte(tc.line))
		human, ok := l.Human()
		if !ok {
			human = ""
		}
		if l.JSON != tc.json || l.Action != tc.action || l.Type != tc.typ || l.Message() != tc.message ||
			l.IsError() != tc.isError || human != tc.human {
			t.Errorf("%s\n got json=%v action=%q type=%d message=%q error=%v human=%q", tc.line,
				l.JSON, l.Action, l.Type, l.Message(), l.IsError(), human)
		}
	}
	r := ParseLine([]byte(`@nix {"action":"result","fields":[1.5e3,"x",-2],"id":1,"type":105}`))
	if r.Int(0) != 1500 || r.Int(1) != 0 || r.Int(2) != -2 || r.Int(9) != 0 || r.Str(1) != "x" || r.Str(0) != "" || r.Str(9) != "" {
		t.Errorf("fields: %d %d %d %q %q", r.Int(0), r.Int(1), r.Int(2), r.Str(1), r.Str(0))
	}
}

// Every line of the real captures parses as what it is: "@nix " lines as
// JSON, the rest as plain text.
func TestEveryRealLineParses(t *testing.T) {
	n := 0
	for name, lines := range captures(t) {
		for _, line := range lines {
			l := ParseLine([]byte(line))
			if l.JSON != strings.HasPrefix(line, "@nix ") || l.Raw != line {
				t.Errorf("%s: %s parsed as %+v", name, line, l)
			}
			n++
		}
	}
	if n < 100 {
		t.Errorf("only %d lines in the captures", n)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"\x1b[31;1merror:\x1b[0m boom":       "error: boom",
		"a\x1b]0;title\x1b\\b":               "ab",
		"bell\x07 and \x1b(B charset":        "bell and  charset",
		"tab\tand\nnewline":                  "tab\tand\nnewline",
		"ünïcode ✓":                          "ünïcode ✓",
		"bad \xff byte":                      "bad \uFFFD byte",
		"c1 \u009b31m csi":                   "c1 31m csi",
		"cut at the end \x1b[":               "cut at the end ",
		"\x1b]52;c;ZXZpbA==\x07clip":         "clip",
		"del\x7f and nul\x00":                "del and nul",
		"no escapes at all, fast path taken": "no escapes at all, fast path taken",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// Any stderr in any pieces: the Log never fails or panics, keeps at most
// keepErrors errors of bounded size, and what it shows a person carries
// no escape sequence.
func FuzzLog(f *testing.F) {
	for _, lines := range captures(f) {
		f.Add([]byte(strings.Join(lines, "\n")), uint8(5))
	}
	f.Add([]byte("@nix {\"action\":\"msg\",\"level\":0,\"msg\":\"\\u001b]52;c;x\\u0007boom\"}\n@nix {"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, piece uint8) {
		step := int(piece%32) + 1
		lg := NewLog(Watch{Every: 1, Line: func(l Line) {
			if h, ok := l.Human(); ok && strings.ContainsRune(h, 0x1b) {
				t.Fatalf("escape shown: %q", h)
			}
		}, Progress: func(p Progress) {
			if strings.ContainsRune(p.Activity, 0x1b) {
				t.Fatalf("escape in the activity: %q", p.Activity)
			}
		}})
		for i := 0; i < len(in); i += step {
			if n, err := lg.Write(in[i:min(i+step, len(in))]); err != nil || n != min(step, len(in)-i) {
				t.Fatalf("write: %d %v", n, err)
			}
		}
		lg.Done(false)
		errs := lg.Errors()
		if len(errs) > keepErrors {
			t.Fatalf("%d errors kept", len(errs))
		}
		for _, e := range errs {
			if len(e) > maxMessage+len("…") || strings.ContainsRune(e, 0x1b) {
				t.Fatalf("error kept: %q", e)
			}
		}
	})
}
