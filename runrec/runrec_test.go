package runrec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/step"
)

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestRecordSurvivesACrashMidStep(t *testing.T) {
	dir := t.TempDir()
	run, err := Create(dir, Options{Kind: "wizard", Profile: "orin-nano-devkit", Version: "v1", Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	ok := run.Begin(step.Detect)
	if err := ok.Finish(Success, "Orin Nano 8GB at 1-8.4", nil); err != nil {
		t.Fatal(err)
	}
	_ = run.SetFact("usb_instance", "1-8.4")
	fl := run.Begin(step.Flash)
	log, err := fl.CreateLog("log")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(log, "Step 3/12... Writing")
	log.Close()
	// No Finish, no Close: jetup died here. What is on disk must say so.
	rec, err := Load(run.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(run.Dir()) != "20261121T101501Z-orin-nano-devkit" || rec.ID != filepath.Base(run.Dir()) {
		t.Errorf("run dir %s id %s", run.Dir(), rec.ID)
	}
	if len(rec.Steps) != 2 || rec.Steps[0].Outcome != Success || rec.Steps[1].Outcome != Running {
		t.Fatalf("steps %+v", rec.Steps)
	}
	if rec.Steps[1].Logs[0] != "flash.log" || rec.Facts["usb_instance"] != "1-8.4" {
		t.Errorf("logs %v facts %v", rec.Steps[1].Logs, rec.Facts)
	}
	if b, _ := os.ReadFile(filepath.Join(run.Dir(), "flash.log")); string(b) != "Step 3/12... Writing\n" {
		t.Errorf("log content %q", b)
	}
	tmp, _ := filepath.Glob(filepath.Join(run.Dir(), ".run-*"))
	if len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestFailedStepKeepsCauseAndNext(t *testing.T) {
	dir := t.TempDir()
	run, _ := Create(dir, Options{Kind: "flash", Profile: "orin-agx-devkit"})
	s := run.Begin(step.Flash)
	err := &step.Error{Cause: "usb-transport", What: "USB write timed out", Next: "use another cable", Code: 1}
	_ = s.SetDetails(map[string]string{"stage": "rcm-boot"})
	_ = s.Finish(OutcomeOf(err), "", err)
	retry := run.Begin(step.Flash)
	l, _ := retry.CreateLog("log")
	l.Close()
	_ = run.Close(Failed)

	rec, err2 := Load(run.Dir())
	if err2 != nil {
		t.Fatal(err2)
	}
	first := rec.Steps[0]
	if first.Outcome != Failed || first.Cause != "usb-transport" || first.Next != "use another cable" || first.Summary != "USB write timed out" {
		t.Errorf("first attempt %+v", first)
	}
	var details map[string]string
	if err := json.Unmarshal(first.Details, &details); err != nil || details["stage"] != "rcm-boot" {
		t.Errorf("details %s", first.Details)
	}
	second := rec.Steps[1]
	if second.Attempt != 2 || second.Logs[0] != "flash-2.log" || second.Outcome != Interrupted || second.Ended == nil {
		t.Errorf("retry attempt %+v", second)
	}
	if rec.Outcome != Failed || rec.Ended == nil {
		t.Errorf("run outcome %s", rec.Outcome)
	}
}

func TestOutcomeOf(t *testing.T) {
	cases := map[Outcome]error{
		Success:   nil,
		Cancelled: fmt.Errorf("flash: %w", context.Canceled),
		Refused:   step.Refuse("system-disk", "pick another disk", "refused"),
		Failed:    errors.New("boom"),
	}
	for want, err := range cases {
		if got := OutcomeOf(err); got != want {
			t.Errorf("OutcomeOf(%v) = %s, want %s", err, got, want)
		}
	}
}

func TestListOrdersAndSkipsDamagedRuns(t *testing.T) {
	dir := t.TempDir()
	clock := fixedClock()
	a, _ := Create(dir, Options{Kind: "detect", Now: clock})
	b, _ := Create(dir, Options{Kind: "flash", Profile: "x", Now: clock})
	same := time.Date(2026, 11, 21, 10, 15, 2, 0, time.UTC)
	c, err := Create(dir, Options{Kind: "flash", Profile: "x", Now: func() time.Time { return same }})
	if err != nil || c.Dir() == b.Dir() {
		t.Fatalf("a second run in the same second must get its own dir: %v %s", err, c.Dir())
	}
	if err := os.WriteFile(filepath.Join(a.Dir(), FileName), []byte("{half"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, bad, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != b.ID() || len(bad) != 1 {
		t.Errorf("runs %d first %s bad %v", len(runs), runs[0].ID, bad)
	}
}

func TestUnwritableStateDirSaysWhatToDo(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(f, nil, 0o644)
	_, err := Create(f, Options{Kind: "x"})
	if err == nil || !strings.Contains(err.Error(), "--state-dir") {
		t.Errorf("error %v does not point to --state-dir", err)
	}
}

func TestLazyLogAppearsOnFirstWrite(t *testing.T) {
	run, err := Create(t.TempDir(), Options{Kind: "flash", Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	s := run.Begin(step.Flash)
	l := s.LazyLog("build.log")
	if got := run.Snapshot().Steps[0].Logs; len(got) != 0 {
		t.Fatalf("logs before any write: %v", got)
	}
	if _, err := l.Write([]byte("building\n")); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if got := run.Snapshot().Steps[0].Logs; len(got) != 1 || got[0] != "flash.build.log" {
		t.Fatalf("logs %v", got)
	}
	b, _ := os.ReadFile(filepath.Join(run.Dir(), "flash.build.log"))
	if string(b) != "building\n" {
		t.Errorf("content %q", b)
	}
}

// A fleet names its runs after its nodes: Name names the directory, the
// profile stays the profile, and a name that is no safe path part is
// refused.
func TestNameNamesTheRunDirectory(t *testing.T) {
	dir := t.TempDir()
	run, err := Create(dir, Options{Kind: "fleet-node", Profile: "orin-nano-devkit", Name: "jetson-1", Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(run.ID(), "-jetson-1") || run.Snapshot().Profile != "orin-nano-devkit" {
		t.Errorf("id %s, profile %s", run.ID(), run.Snapshot().Profile)
	}
	if _, err := Create(dir, Options{Kind: "fleet-node", Name: "../x"}); err == nil || !strings.Contains(err.Error(), "bad run name") {
		t.Errorf("got %v", err)
	}
}
