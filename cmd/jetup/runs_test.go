package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// bench makes the record of a day at the bench: one board that flashed on
// the second attempt, one whose flash failed on USB.
func benchDay(t *testing.T, state string) (ok, bad *runrec.Run) {
	t.Helper()
	clock := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Minute); return clock }
	ok, _ = runrec.Create(state, runrec.Options{Kind: "wizard", Profile: "orin-nano-devkit", Now: now})
	_ = ok.SetFact(step.FactModule, "Orin Nano 8GB")
	_ = ok.SetFact(step.FactUSBInstance, "1-8.4")
	s := ok.Begin(step.Detect)
	_ = s.Finish(runrec.Success, "found", nil)
	s = ok.Begin(step.Flash)
	_ = s.Finish(runrec.Failed, "", &step.Error{Cause: "rcm-rejected", What: "RCM download rejected", Next: "power-cycle into recovery and retry"})
	s = ok.Begin(step.Flash)
	l, _ := s.CreateLog("log")
	l.Close()
	_ = s.Finish(runrec.Success, "flashed", nil)
	_ = ok.Close(runrec.Success)

	bad, _ = runrec.Create(state, runrec.Options{Kind: "flash", Profile: "orin-agx-devkit", Now: now})
	_ = bad.SetFact(step.FactUSBInstance, "2-1")
	s = bad.Begin(step.Flash)
	_ = s.Finish(runrec.Failed, "", &step.Error{Cause: "usb-transport", What: "USB write timed out", Next: "use a direct port"})
	_ = bad.Close(runrec.Failed)
	return ok, bad
}

func TestRunsTellsWhichBoardFailedWhere(t *testing.T) {
	state := t.TempDir()
	ok, bad := benchDay(t, state)
	r := jetup(t, nil, "--state-dir", state, "runs")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("%+v", r)
	}
	if !strings.Contains(lines[1], ok.ID()) || !strings.Contains(lines[1], "detect✓ flash✗✓") || !strings.Contains(lines[1], "Orin Nano 8GB 1-8.4") {
		t.Errorf("first run line %q", lines[1])
	}
	if !strings.Contains(lines[2], bad.ID()) || !strings.Contains(lines[2], "flash✗") || !strings.Contains(lines[2], "failed") {
		t.Errorf("second run line %q", lines[2])
	}

	failedOnly := jetup(t, nil, "--state-dir", state, "runs", "--failed", "--json")
	var recs []runrec.Record
	if err := json.Unmarshal([]byte(failedOnly.stdout), &recs); err != nil {
		t.Fatal(err)
	}
	// Both runs had a failed attempt; --profile narrows to one.
	if len(recs) != 2 {
		t.Errorf("--failed gave %d runs", len(recs))
	}
	one := jetup(t, nil, "--state-dir", state, "--profile", "orin-agx-devkit", "runs", "--json")
	if err := json.Unmarshal([]byte(one.stdout), &recs); err != nil || len(recs) != 1 || recs[0].ID != bad.ID() {
		t.Errorf("--profile filter: %v %s", err, one.stdout)
	}
}

func TestRunsShow(t *testing.T) {
	state := t.TempDir()
	ok, _ := benchDay(t, state)
	r := jetup(t, nil, "--state-dir", state, "runs", "show", ok.ID())
	for _, want := range []string{"cause: rcm-rejected", "next:  power-cycle into recovery and retry", "flash (attempt 2): success", ok.Dir() + "/flash-2.log"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	missing := jetup(t, nil, "--state-dir", state, "runs", "show", "nope")
	if missing.code != 2 || !strings.Contains(missing.stderr, "jetup runs") {
		t.Errorf("%+v", missing)
	}
	empty := jetup(t, nil, "--state-dir", t.TempDir(), "runs", "--json")
	if strings.TrimSpace(empty.stdout) != "[]" {
		t.Errorf("no runs in JSON must be an empty array: %q", empty.stdout)
	}
}
