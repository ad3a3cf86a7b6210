package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// The step's nix calls land in <step>.nix-calls.log, listed in the run
// record; when that file cannot be made (here a directory squats on its
// name) the calls are said lost on stderr, not dropped in silence.
func TestRecordNixCallsWritesTheLogOrSaysWhyNot(t *testing.T) {
	calls := []nixrun.Stat{
		{Args: []string{"path-info", "--json", "/nix/store/abc-system"}, Took: 41 * time.Millisecond},
		{Args: []string{"build", ".#lab"}, Took: time.Second, Err: errors.New("exit status 1")},
	}

	state := t.TempDir()
	run, err := runrec.Create(state, runrec.Options{Kind: "push", Profile: "rpi4"})
	if err != nil {
		t.Fatal(err)
	}
	var notes bytes.Buffer
	recordNixCalls(run.Begin(step.Push), calls, &notes)
	b, err := os.ReadFile(filepath.Join(run.Dir(), "push.nix-calls.log"))
	if err != nil {
		t.Fatalf("the calls log: %v", err)
	}
	if got := string(b); !strings.Contains(got, "0.041s ok nix path-info --json") || !strings.Contains(got, "failed nix build .#lab") {
		t.Errorf("calls log:\n%s", got)
	}
	if notes.Len() != 0 {
		t.Errorf("notes for a log that was written: %q", notes.String())
	}
	if got := lastRunNixCalls(t, state); got != string(b) {
		t.Errorf("the run record does not list the calls log: %q", got)
	}

	run2, err := runrec.Create(t.TempDir(), runrec.Options{Kind: "push", Profile: "rpi4"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(run2.Dir(), "push.nix-calls.log"), 0o700); err != nil {
		t.Fatal(err)
	}
	notes.Reset()
	recordNixCalls(run2.Begin(step.Push), calls, &notes)
	if got := notes.String(); !strings.Contains(got, "nix calls were not recorded") || !strings.Contains(got, "push.nix-calls.log") {
		t.Errorf("notes = %q, want the lost calls log named", got)
	}
}
