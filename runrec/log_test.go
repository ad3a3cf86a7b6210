package runrec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/step"
)

type collect []step.Event

func (c *collect) Emit(e step.Event) { *c = append(*c, e) }

// The step's own output and its printed events share the file, listed in
// run.json; the plain printer drops escapes, the stamped one puts the time
// first.
func TestOpenLogTakesOutputAndEvents(t *testing.T) {
	run, err := Create(t.TempDir(), Options{Kind: "push", Profile: "rpi4", Version: "v1", Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	s := run.Begin(step.Push)
	log, err := s.OpenLog("log")
	if err != nil || log.Err() != nil {
		t.Fatal(err)
	}
	var face collect
	sink := log.Tee(&face)
	if _, err := log.Write([]byte("copying path '/nix/store/a' to 'ssh-ng://jetup-board'...\n")); err != nil {
		t.Fatal(err)
	}
	sink.Emit(step.Warning{Warning: "board \x1b]52;c;eA==\x07said", Next: "look"})
	log.Stamped().Emit(step.Log{Line: "stamped"})
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(run.Dir(), "push.log"))
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "copying path '/nix/store/a' to 'ssh-ng://jetup-board'..." ||
		strings.Contains(lines[1], "\x1b") || !strings.Contains(lines[1], "said") ||
		!strings.HasSuffix(lines[2], "Z stamped") {
		t.Errorf("log:\n%q", b)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", strings.Fields(lines[2])[0]); err != nil {
		t.Errorf("stamp: %v", err)
	}
	if len(face) != 1 {
		t.Errorf("the face got %d events, want the one warning", len(face))
	}
	if rec := run.Snapshot(); len(rec.Steps[0].Logs) != 1 || rec.Steps[0].Logs[0] != "push.log" {
		t.Errorf("logs in run.json: %v", rec.Steps[0].Logs)
	}
}

// Without a step (a screen run without a record) nothing is written and
// nothing fails.
func TestOpenLogOnANilStepWritesNowhere(t *testing.T) {
	var s *Step
	log, err := s.OpenLog("log")
	if err != nil {
		t.Fatal(err)
	}
	var face collect
	log.Tee(&face).Emit(step.Log{Line: "x"})
	if n, err := log.Write([]byte("abc")); n != 3 || err != nil {
		t.Errorf("write: %d %v", n, err)
	}
	log.Printer().Emit(step.Log{Line: "y"})
	if len(face) != 1 || log.Close() != nil || log.Err() != nil {
		t.Errorf("face %v", face)
	}
}

// A log that cannot be created: the error is returned, and a face that
// goes on without it is told once, not left to guess.
func TestOpenLogThatCannotBeCreatedSaysSo(t *testing.T) {
	run, err := Create(t.TempDir(), Options{Kind: "write", Profile: "rpi4", Version: "v1", Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	s := run.Begin(step.Write)
	if err := os.RemoveAll(run.Dir()); err != nil {
		t.Fatal(err)
	}
	log, err := s.OpenLog("log")
	if err == nil || log.Err() == nil {
		t.Fatal("no error for a log in a directory that is gone")
	}
	var face collect
	sink := log.Tee(&face)
	sink.Emit(step.Log{Line: "first"})
	log.Tee(&face)
	if n, err := log.Write([]byte("abc")); n != 3 || err != nil {
		t.Errorf("write: %d %v", n, err)
	}
	var warnings int
	for _, e := range face {
		if w, ok := e.(step.Warning); ok {
			warnings++
			if !strings.Contains(w.Warning, "log could not be written") || !strings.Contains(w.Next, "--state-dir") {
				t.Errorf("warning %+v", w)
			}
		}
	}
	if warnings != 1 || len(face) != 2 {
		t.Errorf("the face got %+v, want one warning and the event", face)
	}
}
