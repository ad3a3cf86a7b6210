package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/nixrun"
)

func parse(line string) nixrun.Line { return nixrun.ParseLine([]byte(line)) }

// A real Nix 2.8 `nix copy --log-format internal-json -v` stream to
// ssh-ng://, recorded on the build machine, with a newer Nix's extra keys
// and types and some plain lines mixed in.
const copyLog28 = `@nix {"action":"msg","level":0,"msg":"warning: the group 'nixbld' specified in 'build-users-group' does not exist"}
@nix {"action":"start","id":134114648784896,"level":0,"text":"","type":102}
@nix {"action":"start","id":134114648784899,"level":6,"text":"querying info about missing paths","type":0}
@nix {"action":"stop","id":134114648784899}
warning: the group 'nixbld' specified in 'build-users-group' does not exist
@nix {"action":"start","id":134114648784900,"level":3,"text":"copying 3 paths","type":103}
@nix {"action":"start","fields":["/nix/store/35kmmr03ipp5v52n69i52fhy1xq4cpzr-a","local","ssh-ng://jetup-board"],"id":134114648784901,"level":3,"text":"copying path '/nix/store/35kmmr03ipp5v52n69i52fhy1xq4cpzr-a' to 'ssh-ng://jetup-board'","type":100}
@nix {"action":"stop","id":134114648784901}
@nix {"action":"start","id":134114648784902,"level":3,"text":"copying path '/nix/store/7yjzrrg6hyi46zdmv0qg9lwhxyira8kd-b' to 'ssh-ng://jetup-board'","type":100,"parent":134114648784900,"newkey":{"x":1}}
@nix {"action":"result","fields":[300,1000,0,0],"id":134114648784902,"type":105}
@nix {"action":"result","fields":["something new"],"id":134114648784902,"type":199}
@nix {"action":"start","id":9,"type":113}
@nix {broken json
ssh: connect to host 1.2.3.4 port 22: Connection refused
@nix {"action":"stop","id":134114648784902}
@nix {"action":"start","fields":["/nix/store/s8xg9z6m8gbsl4p7h5nnw1ff3sff2g7b-top","local","ssh-ng://jetup-board"],"id":134114648784903,"level":3,"text":"","type":100}
@nix {"action":"stop","id":134114648784903}
@nix {"action":"result","fields":[3,3,0,0],"id":134114648784900,"type":105}
@nix {"action":"stop","id":134114648784900}
`

func TestCopyTrackerReadsNixLogsTolerantly(t *testing.T) {
	missing := []StorePath{
		{"/nix/store/35kmmr03ipp5v52n69i52fhy1xq4cpzr-a", 100},
		{"/nix/store/7yjzrrg6hyi46zdmv0qg9lwhxyira8kd-b", 1000},
		{"/nix/store/s8xg9z6m8gbsl4p7h5nnw1ff3sff2g7b-top", 900},
	}
	tr := NewCopyTracker(missing)
	now := time.Unix(1000, 0)
	var snaps []CopyProgress
	// Through the Nix runner's reader, as the copy reads nix's stderr,
	// in pieces that split lines.
	lg := nixrun.NewLog(nixrun.Watch{Line: func(l nixrun.Line) {
		now = now.Add(100 * time.Millisecond)
		if tr.Feed(l, now) {
			snaps = append(snaps, tr.Snapshot(now))
		}
	}})
	for rest := copyLog28; rest != ""; {
		n := min(len(rest), 37)
		_, _ = lg.Write([]byte(rest[:n]))
		rest = rest[n:]
	}
	lg.Close()
	// a start, a stop; b start (path from the text), progress 300 bytes, stop; top start, stop.
	want := []struct {
		paths int
		bytes int64
	}{{0, 0}, {1, 100}, {1, 100}, {1, 400}, {2, 1100}, {2, 1100}, {3, 2000}}
	if len(snaps) != len(want) {
		t.Fatalf("got %d progress changes, want %d: %+v", len(snaps), len(want), snaps)
	}
	for i, w := range want {
		if snaps[i].PathsDone != w.paths || snaps[i].BytesDone != w.bytes {
			t.Errorf("change %d: %d paths %d bytes, want %d %d", i, snaps[i].PathsDone, snaps[i].BytesDone, w.paths, w.bytes)
		}
	}
	if snaps[3].Current != "/nix/store/7yjzrrg6hyi46zdmv0qg9lwhxyira8kd-b" {
		t.Errorf("current path from the start text: %q", snaps[3].Current)
	}
	last := snaps[len(snaps)-1]
	if last.Fraction() != 1 || last.Rate <= 0 || last.ETASeconds != 0 {
		t.Errorf("last %+v", last)
	}
}

func TestRateAndETAFollowTheLastSeconds(t *testing.T) {
	tr := NewCopyTracker([]StorePath{{"/a", 10 << 20}, {"/b", 10 << 20}, {"/c", 80 << 20}})
	t0 := time.Unix(0, 0)
	tr.sample(t0)
	feed := func(at time.Duration, line string) { tr.Feed(parse(line), t0.Add(at)) }
	feed(0, `@nix {"action":"start","id":1,"type":100,"fields":["/a"]}`)
	feed(time.Second, `@nix {"action":"stop","id":1}`)
	feed(time.Second, `@nix {"action":"start","id":2,"type":100,"fields":["/b"]}`)
	feed(2*time.Second, `@nix {"action":"stop","id":2}`)
	s := tr.Snapshot(t0.Add(2 * time.Second))
	if s.Rate < 9<<20 || s.Rate > 11<<20 {
		t.Errorf("rate %.0f, want about 10 MiB/s", s.Rate)
	}
	if s.ETASeconds < 7 || s.ETASeconds > 9 {
		t.Errorf("eta %d, want about 8 s", s.ETASeconds)
	}
	// Nothing more for 20 s: the rate decays instead of freezing.
	if later := tr.Snapshot(t0.Add(22 * time.Second)); later.Rate >= s.Rate/2 {
		t.Errorf("rate after a stall %.0f", later.Rate)
	}
	if !strings.Contains(s.Text(), "2/3 paths") || !strings.Contains(s.Text(), "MiB/s") {
		t.Errorf("text %q", s.Text())
	}
}

func TestResumeKeepsWhatArrived(t *testing.T) {
	tr := NewCopyTracker([]StorePath{{"/a", 10}, {"/b", 20}, {"/c", 30}})
	tr.Feed(parse(`@nix {"action":"start","id":1,"type":100,"fields":["/a"]}`), time.Now())
	tr.Feed(parse(`@nix {"action":"stop","id":1}`), time.Now())
	tr.Feed(parse(`@nix {"action":"start","id":2,"type":100,"fields":["/b"]}`), time.Now())
	tr.resume()
	tr.markPresent([]string{"/a", "/b", "/not-ours"})
	s := tr.Snapshot(time.Now())
	if s.PathsDone != 2 || s.BytesDone != 30 || s.Attempt != 2 || s.Current != "" {
		t.Errorf("after resume %+v", s)
	}
}
