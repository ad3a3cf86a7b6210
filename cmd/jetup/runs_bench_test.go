package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// benchBoards records this morning's bench: two boards of one session
// (one done, one whose push failed), a headless flash that is no bench
// board, and a board of yesterday.
func benchBoards(t *testing.T, state string) (done, failed *runrec.Run) {
	t.Helper()
	today := runrec.StartOfDay(time.Now()).Add(8 * time.Hour)
	if today.After(time.Now()) {
		// Before 08:00 the bench began at midnight (its times may lie ahead
		// of the clock: no board is in flight, so the report never asks).
		today = runrec.StartOfDay(time.Now()).Add(time.Minute)
	}
	clock := today
	now := func() time.Time { return clock }
	bench, _, err := runrec.OpenBench(state, runrec.BenchOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(label string) *runrec.Run {
		r, err := runrec.Create(state, runrec.Options{Kind: "wizard", Profile: "orin-nano-super-devkit", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bench.Add(r, label); err != nil {
			t.Fatal(err)
		}
		return r
	}
	done = mk("ON-0042")
	for _, id := range []step.ID{step.Detect, step.Flash, step.Console, step.Push, step.Verify} {
		s := done.Begin(id)
		clock = clock.Add(2 * time.Minute)
		_ = s.Finish(runrec.Success, "ok", nil)
	}
	_ = done.Close(runrec.Success)
	// A label a spreadsheet would take for a formula.
	failed = mk("ON-0043")
	_ = bench.SetLabel(failed, "ON-0043")
	s := failed.Begin(step.Flash)
	clock = clock.Add(3 * time.Minute)
	_ = s.Finish(runrec.Success, "flashed", nil)
	s = failed.Begin(step.Push)
	clock = clock.Add(time.Minute)
	_ = s.Finish(runrec.Failed, "", &step.Error{Cause: "auth-refused", What: "=HYPERLINK(\"http://x\") refused the login",
		Next: "@SUM(1) run k at the board's console"})
	_ = failed.Close(runrec.Failed)

	_, _ = runrec.Create(state, runrec.Options{Kind: "flash", Profile: "orin-nano-super-devkit", Now: now})
	yesterday := runrec.StartOfDay(today).Add(-12 * time.Hour)
	old, _ := runrec.Create(state, runrec.Options{Kind: "wizard", Profile: "rpi4", Now: func() time.Time { return yesterday }})
	_ = old.SetBench(runrec.BenchRef{Session: "old", Board: 1, Label: "PI-1"})
	_ = old.Close(runrec.Success)
	return done, failed
}

func TestRunsBenchListsTodaysBoards(t *testing.T) {
	state := t.TempDir()
	done, failed := benchBoards(t, state)
	r := jetup(t, nil, "--state-dir", state, "runs", "--bench")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 {
		t.Fatalf("want a header, two boards, the failure, its next step and the totals:\n%s", r.stdout)
	}
	if !strings.Contains(lines[1], "ON-0042") || !strings.Contains(lines[1], "flash✓ 2m0s") || !strings.Contains(lines[1], "10m0s") ||
		!strings.HasSuffix(lines[1], "done") {
		t.Errorf("board 1: %q", lines[1])
	}
	if !strings.Contains(lines[2], "ON-0043") || !strings.Contains(lines[2], "push✗ 1m0s") || !strings.HasSuffix(lines[2], "failed") {
		t.Errorf("board 2: %q", lines[2])
	}
	if !strings.Contains(lines[3], "✗ push auth-refused:") || !strings.Contains(lines[4], "next: @SUM(1) run k") {
		t.Errorf("failure lines %q %q", lines[3], lines[4])
	}
	// 08:00 to 08:14: one board done in 14 minutes.
	if lines[5] != "2 boards: 1 done, 1 failed · 4.3 boards per hour over 14m0s" {
		t.Errorf("last line %q", lines[5])
	}
	if strings.Contains(r.stdout, "PI-1") {
		t.Error("yesterday's board listed as today's")
	}

	// --since yesterday takes in yesterday's board as well.
	all := jetup(t, nil, "--state-dir", state, "runs", "--bench", "--since", "yesterday", "--json")
	var rep runrec.BenchReport
	if err := json.Unmarshal([]byte(all.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, all.stdout)
	}
	if len(rep.Boards) != 3 || rep.Boards[0].Label != "PI-1" || rep.Boards[1].Run != done.ID() || rep.Boards[2].Run != failed.ID() ||
		rep.Boards[2].Cause != "auth-refused" || rep.Done != 2 || rep.Failed != 1 {
		t.Errorf("JSON report %+v", rep)
	}
}

func TestRunsBenchCSVIsSafeForASpreadsheet(t *testing.T) {
	state := t.TempDir()
	done, failed := benchBoards(t, state)
	r := jetup(t, nil, "--state-dir", state, "runs", "--bench", "--csv")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.stdout)
	}
	if len(rows) != 4 {
		t.Fatalf("want a header, two boards and the totals: %d rows\n%s", len(rows), r.stdout)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"label", "profile", "result", "total_s", "flash", "flash_s", "push", "verify_s", "cause", "next", "boards_per_hour"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("no column %s in %v", h, rows[0])
		}
	}
	one, two, total := rows[1], rows[2], rows[3]
	if one[col["run"]] != done.ID() || one[col["label"]] != "ON-0042" || one[col["result"]] != "done" || one[col["total_s"]] != "600" ||
		one[col["flash"]] != "success" || one[col["flash_s"]] != "120" || one[col["write"]] != "" {
		t.Errorf("board 1 %v", one)
	}
	if two[col["run"]] != failed.ID() || two[col["push"]] != "failed" || two[col["cause"]] != "auth-refused" {
		t.Errorf("board 2 %v", two)
	}
	// Cells a spreadsheet would run as formulas start with a quote.
	if f := two[col["failure"]]; !strings.HasPrefix(f, "'=HYPERLINK") {
		t.Errorf("failure cell %q", f)
	}
	if n := two[col["next"]]; n != "'@SUM(1) run k at the board's console" {
		t.Errorf("next cell %q", n)
	}
	if total[col["label"]] != "total" || total[col["result"]] != "1 done, 1 failed" || total[col["total_s"]] != "840" ||
		total[col["boards_per_hour"]] != "4.29" {
		t.Errorf("totals %v", total)
	}
}

func TestRunsBenchBadInput(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{
		{"runs", "--bench", "--since", "last tuesday"},
		{"runs", "--bench", "--csv", "--json"},
		{"runs", "--csv"},
	} {
		r := jetup(t, nil, append([]string{"--state-dir", state}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "next: ") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if r := jetup(t, nil, "--state-dir", state, "runs", "--bench"); r.code != 0 || !strings.Contains(r.stdout, "No bench boards since") {
		t.Errorf("empty bench: %+v", r)
	}
}

func TestCellGuardsFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1":         "'=1+1",
		"+49 123":      "'+49 123",
		"-2":           "'-2",
		"@cmd":         "'@cmd",
		"\tx":          "'\tx",
		"ON-0042":      "ON-0042",
		"\x1b[31m=red": "'=red",
		"":             "",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
