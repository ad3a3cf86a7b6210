package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

const bootWait = 60 * time.Second

// startConsole opens the wizard on the Watch step with a simulated board
// booting NixOS on a real pty, twenty times faster than real time.
func startConsole(t *testing.T, w, h int) (*teatest.TestModel, *testkit.Screen, *Model, *sim.Board) {
	t.Helper()
	return startConsoleWith(t, w, h, sim.BoardOptions{Speed: 20})
}

// startConsoleWith is startConsole with a board made from o.
func startConsoleWith(t *testing.T, w, h int, o sim.BoardOptions) (*teatest.TestModel, *testkit.Screen, *Model, *sim.Board) {
	t.Helper()
	o.Dir = t.TempDir()
	board, err := sim.NewBoard(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(board.Close)
	set, errs := profiles.Load(assets.Profiles(), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	b := sim.Hardware()
	b.Serial = board
	m := New(Options{Profiles: set, StateDir: t.TempDir(), Profile: "orin-nano-devkit", Hardware: b})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	t.Cleanup(func() { _ = tm.Quit(); m.Close() })
	scr := testkit.NewScreen(tm.Output(), w, h)
	scr.WaitFor(t, wait, "Check host")
	tm.Send(GoToMsg{Step: step.Console})
	return tm, scr, m, board
}

func TestConsoleScreenWatchesTheBootAtBothSizes(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		w, h := size[0], size[1]
		tm, scr, m, _ := startConsole(t, w, h)
		want := []string{"▸ Watch", "Watch the console", "● connected", "✓MB1", "✓UEFI", "✓login", "▸shell", "192.168.55.1", "[nixos@nixos:~]$"}
		if w == 200 {
			// Wide: the facts have their own column, the pane shows more.
			want = append(want, "Facts", "firmware   36.4.3-0a1b2c3d4e5f", "host name  nixos", "The push step will use",
				"<<< NixOS Stage 2 >>>")
		} else {
			want = append(want, "fw 36.4.3-0a1b2c3d4e5f", "host nixos", "enter: continue with 192.168.55.1")
		}
		text := scr.WaitFor(t, bootWait, want...)
		checkWidth(t, text, w)
		if strings.Contains(text, "\x1b") || strings.Contains(text, "[0;32m") {
			t.Errorf("escape codes leaked into the pane:\n%s", text)
		}

		tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		scr.WaitFor(t, wait, "✓ Watch", "▸ Push")
		rec := m.sess.Run.Snapshot()
		var st *runrec.StepRecord
		for i := range rec.Steps {
			if rec.Steps[i].Step == step.Console {
				st = &rec.Steps[i]
			}
		}
		if st == nil || st.Outcome != runrec.Success || st.Summary != "reached shell; hostname nixos; ip 192.168.55.1" ||
			strings.Join(st.Logs, ",") != "console.raw,console.log" || len(st.Details) == 0 {
			t.Errorf("console step record %+v", st)
		}
		if rec.Facts[step.FactIP] != "192.168.55.1" || rec.Facts[step.FactHostname] != "nixos" ||
			rec.Facts[step.FactFirmwareVersion] != "36.4.3-0a1b2c3d4e5f" || rec.Facts[step.FactNixOSVersion] == "" {
			t.Errorf("facts for the next steps %v", rec.Facts)
		}
	}
}

func TestConsoleScreenFocusSendsKeysToTheBoard(t *testing.T) {
	tm, scr, _, board := startConsole(t, 100, 30)
	scr.WaitFor(t, bootWait, "▸shell")
	tm.Type("e") // named keys work outside focus mode
	tm.Type("b")
	tm.Type("i")
	scr.WaitFor(t, wait, "TYPING TO THE BOARD", "ctrl+] to stop")
	tm.Type("uname -q")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	// q went to the board, not to the wizard's quit.
	text := scr.WaitFor(t, wait, "$ uname -q")
	if strings.Contains(text, "Quit") {
		t.Errorf("q in focus mode asked to quit:\n%s", text)
	}
	tm.Send(tea.PasteMsg{Content: "echo pasted\n"})
	scr.WaitFor(t, wait, "$ echo pasted")
	if text := scr.Text(); strings.Contains(text, "q quit") || strings.Contains(text, "s skip") {
		t.Errorf("focus mode footer offers wizard keys:\n%s", text)
	}
	// ctrl+c interrupts the board's command; it does not quit the wizard.
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if text := scr.Text(); strings.Contains(text, "Quit") {
		t.Errorf("ctrl+c in focus mode asked to quit:\n%s", text)
	}
	tm.Send(tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl})
	scr.WaitFor(t, wait, "following")
	got := string(board.Input())
	if !strings.HasPrefix(got, "\x1b\x1b[23~uname -q\recho pasted\r\x03") {
		t.Errorf("the board got %q", got)
	}
}

func TestConsoleScreenSearchAndScroll(t *testing.T) {
	tm, scr, _, _ := startConsole(t, 80, 24)
	scr.WaitFor(t, bootWait, "▸shell")
	tm.Type("/Stage 1")
	scr.WaitFor(t, wait, "search: Stage 1")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	scr.WaitFor(t, wait, "<<< NixOS Stage 1 >>>", "match at line")
	tm.Type("/no such text")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	scr.WaitFor(t, wait, `"no such text" not found`)
	tm.Send(tea.KeyPressMsg{Code: tea.KeyHome})
	scr.WaitFor(t, wait, "paused at line 1 of", "I> MB1 (version")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnd})
	scr.WaitFor(t, wait, "following", "[nixos@nixos:~]$")
}

func TestConsoleScreenSurvivesAnUnplug(t *testing.T) {
	_, scr, _, board := startConsole(t, 80, 24)
	scr.WaitFor(t, bootWait, "▸shell")
	board.Unplug()
	scr.WaitFor(t, wait, "○ unplugged: waiting for", "the port went away")
	if err := board.Replug(); err != nil {
		t.Fatal(err)
	}
	scr.WaitFor(t, wait, "● connected", "the port is back")
}

func TestConsoleScreenBusyPortFailsThenRetries(t *testing.T) {
	set, _ := profiles.Load(assets.Profiles(), "")
	board, err := sim.NewBoard(sim.BoardOptions{Dir: t.TempDir(), Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	// Another program has the port.
	held, err := serialcon.System{}.Open(board.Path(), serialcon.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b := sim.Hardware()
	b.Serial = board
	m := New(Options{Profiles: set, StateDir: t.TempDir(), Profile: "orin-nano-devkit", Hardware: b})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	t.Cleanup(func() { _ = tm.Quit(); m.Close() })
	scr := testkit.NewScreen(tm.Output(), 80, 24)
	scr.WaitFor(t, wait, "Check host")
	tm.Send(GoToMsg{Step: step.Console})
	scr.WaitFor(t, wait, "✗ stopped", "is in use", "Next: close the other program", "r try again")
	held.Close()
	tm.Type("r")
	scr.WaitFor(t, bootWait, "● connected", "▸shell")
	var attempts []runrec.StepRecord
	for _, s := range m.sess.Run.Snapshot().Steps {
		if s.Step == step.Console {
			attempts = append(attempts, s)
		}
	}
	if len(attempts) != 2 || attempts[0].Outcome != runrec.Failed || attempts[0].Cause != "port-busy" ||
		attempts[1].Outcome != runrec.Running || attempts[1].Logs[0] != "console-2.raw" {
		t.Errorf("attempts %+v", attempts)
	}
}
