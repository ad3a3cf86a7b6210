package runrec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/step"
)

// clockAt is a clock that starts at t and moves one second a reading.
func clockAt(t time.Time) func() time.Time {
	return func() time.Time { t = t.Add(time.Second); return t }
}

func readSession(t *testing.T, state string) BenchSession {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(state, BenchFile))
	if err != nil {
		t.Fatal(err)
	}
	var s BenchSession
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBenchSessionTiesTheDaysRunsInOrder(t *testing.T) {
	state := t.TempDir()
	morning := time.Date(2026, 11, 21, 8, 0, 0, 0, time.Local)
	now := clockAt(morning)
	b, note, err := OpenBench(state, BenchOptions{Now: now})
	if err != nil || note != "" {
		t.Fatalf("%v %q", err, note)
	}
	var runs []*Run
	for i, label := range []string{"ON-0042", ""} {
		r, err := Create(state, Options{Kind: "wizard", Profile: "orin-nano-devkit", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := b.Add(r, label)
		if err != nil || ref.Board != i+1 || ref.Session != b.Session().ID {
			t.Fatalf("board %d: %+v %v", i+1, ref, err)
		}
		runs = append(runs, r)
	}
	// The second board told its label later (its USB serial).
	if err := b.SetLabel(runs[1], "1421120045123"); err != nil {
		t.Fatal(err)
	}
	s := readSession(t, state)
	if len(s.Boards) != 2 || s.Boards[0].Run != runs[0].ID() || s.Boards[1].Run != runs[1].ID() ||
		s.Boards[0].Label != "ON-0042" || s.Boards[1].Label != "1421120045123" || s.Boards[1].Board != 2 {
		t.Fatalf("bench.json %+v", s)
	}
	for i, r := range runs {
		rec, err := Load(r.Dir())
		if err != nil || rec.Bench == nil || rec.Bench.Session != s.ID || rec.Bench.Board != i+1 || rec.Bench.Label != s.Boards[i].Label {
			t.Errorf("run %d's own record: %+v %v", i+1, rec.Bench, err)
		}
	}
	if _, err := b.Add(runs[0], "../etc"); err == nil {
		t.Error("a label that is no name was taken")
	}

	// jetup started again the same day: the same session goes on.
	again, note, err := OpenBench(state, BenchOptions{Now: clockAt(morning.Add(5 * time.Hour))})
	if err != nil || note != "" || again.Session().ID != s.ID || len(again.Session().Boards) != 2 {
		t.Fatalf("same day: %+v %q %v", again.Session(), note, err)
	}

	// The next day starts a new session; yesterday's is kept.
	next, _, err := OpenBench(state, BenchOptions{Now: clockAt(morning.Add(24 * time.Hour))})
	if err != nil || next.Session().ID == s.ID || len(next.Session().Boards) != 0 {
		t.Fatalf("next day: %+v %v", next.Session(), err)
	}
	raw, err := os.ReadFile(filepath.Join(state, "bench", s.ID+".json"))
	if err != nil || !strings.Contains(string(raw), runs[1].ID()) {
		t.Errorf("yesterday's session not kept: %v", err)
	}
}

func TestDamagedBenchFileStartsANewSessionAndLosesNoBoard(t *testing.T) {
	for name, content := range map[string]string{
		"not json":          `{"id": "20261121T080000Z", "boards": [{"run": `,
		"a path for a name": `{"id": "20261121T080000Z", "started": "2026-11-21T08:00:00Z", "boards": [{"board": 1, "run": "../../etc"}]}`,
		"no start":          `{"id": "20261121T080000Z", "boards": []}`,
	} {
		t.Run(name, func(t *testing.T) {
			state := t.TempDir()
			now := clockAt(time.Date(2026, 11, 21, 8, 0, 0, 0, time.Local))
			b, _, err := OpenBench(state, BenchOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := Create(state, Options{Kind: "wizard", Profile: "rpi4", Now: now})
			if _, err := b.Add(r, "PI-7"); err != nil {
				t.Fatal(err)
			}
			_ = r.Close(Success)
			if err := os.WriteFile(b.Path(), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}

			b2, note, err := OpenBench(state, BenchOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(note, "damaged") || !strings.Contains(note, "jetup runs --bench") {
				t.Errorf("note %q", note)
			}
			kept, _ := filepath.Glob(filepath.Join(state, BenchFile+".damaged-*"))
			if len(kept) != 1 {
				t.Fatalf("damaged file kept as %v", kept)
			}
			if raw, _ := os.ReadFile(kept[0]); string(raw) != content {
				t.Errorf("the damaged file was changed: %q", raw)
			}
			if !strings.Contains(note, filepath.Base(kept[0])) {
				t.Errorf("the note does not name the kept file: %q", note)
			}
			if s := readSession(t, state); len(s.Boards) != 0 || s.ID == "" {
				t.Errorf("new session %+v", s)
			}
			// The board of the damaged session is still a bench board of today.
			runs, _, _ := ListSince(state, StartOfDay(now()))
			rep := Report(runs, StartOfDay(now()), now())
			if len(rep.Boards) != 1 || rep.Boards[0].Label != "PI-7" || rep.Done != 1 {
				t.Errorf("report after the damage %+v", rep)
			}
			if used, _ := LabelUsed(state, "pi-7", StartOfDay(now()), ""); used != r.ID() {
				t.Errorf("label of the damaged session's board not found: %q", used)
			}
			if _, err := b2.Add(r, "PI-8"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLabelUsedLooksAtTodayOnly(t *testing.T) {
	state := t.TempDir()
	day := time.Date(2026, 11, 21, 9, 0, 0, 0, time.Local)
	yesterday := clockAt(day.Add(-20 * time.Hour))
	old, _ := Create(state, Options{Kind: "wizard", Profile: "rpi4", Now: yesterday})
	_ = old.SetBench(BenchRef{Session: "20261120T130000Z", Board: 1, Label: "A1"})
	today := clockAt(day)
	cur, _ := Create(state, Options{Kind: "wizard", Profile: "rpi4", Now: today})
	_ = cur.SetBench(BenchRef{Session: "20261121T090000Z", Board: 1, Label: "B2"})
	plain, _ := Create(state, Options{Kind: "write", Profile: "rpi4", Now: today})
	_ = plain.SetFact("label", "A1")

	since := StartOfDay(day)
	for label, want := range map[string]string{"A1": "", "b2": cur.ID(), "C3": ""} {
		if got, err := LabelUsed(state, label, since, ""); err != nil || got != want {
			t.Errorf("LabelUsed(%s) = %q %v, want %q", label, got, err, want)
		}
	}
	if got, _ := LabelUsed(state, "B2", since, cur.ID()); got != "" {
		t.Errorf("a board's own label counted against it: %s", got)
	}
}

func TestLabelFromWhatTheBoardSays(t *testing.T) {
	for in, want := range map[string]string{
		"1421120045123":          "1421120045123",
		"  0x1137aeb0\n":         "0x1137aeb0",
		"-rf":                    "rf",
		"\x1b[31mON 42":          "31mON42",
		"...":                    "",
		"":                       "",
		strings.Repeat("a", 300): strings.Repeat("a", 100),
	} {
		if got := LabelFrom(in); got != want {
			t.Errorf("LabelFrom(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReportTellsWhichBoardFailedWhereAndBoardsPerHour(t *testing.T) {
	state := t.TempDir()
	start := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	clock := start
	mk := func(label string) *Run {
		r, err := Create(state, Options{Kind: "wizard", Profile: "orin-nano-devkit", Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		_ = r.SetBench(BenchRef{Session: "s", Board: 1, Label: label})
		return r
	}
	// Board 1: flash failed once, then passed; done after 20 minutes.
	one := mk("ON-1")
	s := one.Begin(step.Flash)
	clock = start.Add(4 * time.Minute)
	_ = s.Finish(Failed, "", &step.Error{Cause: "usb-transport", What: "USB write timed out", Next: "use a direct port"})
	s = one.Begin(step.Flash)
	clock = start.Add(10 * time.Minute)
	_ = s.Finish(Success, "flashed", nil)
	s = one.Begin(step.Push)
	clock = start.Add(20 * time.Minute)
	_ = s.Finish(Success, "pushed", nil)
	_ = one.Close(Success)
	// Board 2: push failed for good.
	two := mk("ON-2")
	s = two.Begin(step.Push)
	clock = start.Add(30 * time.Minute)
	_ = s.Finish(Failed, "", &step.Error{Cause: "auth-refused", What: "the board refused the login", Next: "run k on the console"})
	_ = two.Close(Failed)
	// Board 3: still pushing.
	three := mk("ON-3")
	three.Begin(step.Push)
	// A headless flash is no bench board.
	_, _ = Create(state, Options{Kind: "flash", Profile: "orin-nano-devkit", Now: func() time.Time { return clock }})

	runs, _, err := List(state)
	if err != nil {
		t.Fatal(err)
	}
	rep := Report(runs, start, start.Add(time.Hour))
	if len(rep.Boards) != 3 || rep.Done != 1 || rep.Failed != 1 || rep.InFlight != 1 {
		t.Fatalf("report %+v", rep)
	}
	b1 := rep.Boards[0]
	if b1.Label != "ON-1" || b1.Result != BoardDone || b1.FailedStep != "" || b1.TotalSeconds != 1200 {
		t.Errorf("board 1 %+v", b1)
	}
	if f := b1.Steps[0]; f.Step != step.Flash || f.Verdict != Success || f.Attempts != 2 || f.Seconds != 600 {
		t.Errorf("board 1 flash %+v", f)
	}
	b2 := rep.Boards[1]
	if b2.Result != BoardFailed || b2.FailedStep != step.Push || b2.Cause != "auth-refused" || b2.Next != "run k on the console" {
		t.Errorf("board 2 %+v", b2)
	}
	if b3 := rep.Boards[2]; b3.Result != BoardInFlight || b3.Steps[0].Verdict != Running {
		t.Errorf("board 3 %+v", b3)
	}
	// From 08:00 to now (09:00, board 3 is in flight): one board done in one hour.
	if rep.SpanSeconds != 3600 || rep.BoardsPerHour != 1 {
		t.Errorf("span %v, %v boards per hour", rep.SpanSeconds, rep.BoardsPerHour)
	}
	if later := Report(runs, start.Add(15*time.Minute), start.Add(time.Hour)); len(later.Boards) != 2 {
		t.Errorf("since 08:15: %d boards", len(later.Boards))
	}
}

func TestListSinceSkipsOlderRunsWithoutReadingThem(t *testing.T) {
	state := t.TempDir()
	day := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	old, _ := Create(state, Options{Kind: "wizard", Profile: "rpi4", Now: clockAt(day.Add(-48 * time.Hour))})
	// A damaged old record would be reported by List; ListSince never opens it.
	if err := os.WriteFile(filepath.Join(old.Dir(), FileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	cur, _ := Create(state, Options{Kind: "wizard", Profile: "rpi4", Now: clockAt(day)})
	runs, bad, err := ListSince(state, day.Add(-time.Hour))
	if err != nil || len(bad) != 0 || len(runs) != 1 || runs[0].ID != cur.ID() {
		t.Errorf("runs %d bad %v err %v", len(runs), bad, err)
	}
	if _, bad, _ := List(state); len(bad) != 1 {
		t.Errorf("List should report the damaged old run: %v", bad)
	}
}
