package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// consoleBench is the simulated bench with a board made from o on its
// console: booting NixOS on a real pty, a thousand times faster than real
// time unless o says otherwise (a test that needs an earlier stage holds
// the board there with o.HoldAt).
func consoleBench(t *testing.T, o sim.BoardOptions) (Options, *sim.Board) {
	t.Helper()
	o.Dir = t.TempDir()
	if o.Speed == 0 {
		o.Speed = 1000
	}
	board, err := sim.NewBoard(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(board.Close)
	b := sim.Hardware()
	b.Serial = board
	return Options{Profile: "orin-nano-devkit", Hardware: b}, board
}

// onConsole opens the wizard on the Watch step with a board made from o.
func onConsole(t *testing.T, w, h int, o sim.BoardOptions) (*driver, *sim.Board) {
	t.Helper()
	opt, board := consoleBench(t, o)
	return driveStep(t, w, h, opt, step.Console), board
}

func TestConsoleScreenWatchesTheBootAtBothSizes(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		d, _ := onConsole(t, size[0], size[1], sim.BoardOptions{})
		consoleWatchesTheBoot(t, d, size[0])
	}
}

// The Watch screen's walk through a real program, a board booting at
// twenty times real time.
func TestConsoleWalk(t *testing.T) {
	t.Parallel()
	o, _ := consoleBench(t, sim.BoardOptions{Speed: 20})
	p := runProgram(t, 80, 24, o)
	p.waitView("Check host")
	p.send(GoToMsg{Step: step.Console})
	consoleWatchesTheBoot(t, p, 80)
}

func consoleWatchesTheBoot(t *testing.T, u ui, w int) {
	t.Helper()
	want := []string{"▸ Watch", "Watch the console", "● connected", "✓MB1", "✓UEFI", "✓login", "▸shell", "192.168.55.1", "[nixos@nixos:~]$"}
	if w == 200 {
		// Wide: the facts have their own column, the pane shows more.
		want = append(want, "Facts", "firmware   36.4.3-0a1b2c3d4e5f", "host name  nixos", "The push step will use",
			"<<< NixOS Stage 2 >>>")
	} else {
		want = append(want, "fw 36.4.3-0a1b2c3d4e5f", "host nixos", "enter: continue with 192.168.55.1")
	}
	text := u.waitView(want...)
	checkWidth(t, text, w)
	if strings.Contains(text, "\x1b") || strings.Contains(text, "[0;32m") {
		t.Errorf("escape codes leaked into the pane:\n%s", text)
	}

	u.key(tea.KeyEnter)
	u.waitView("✓ Watch", "▸ Push")
	m := u.model()
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

func TestConsoleScreenFocusSendsKeysToTheBoard(t *testing.T) {
	t.Parallel()
	d, board := onConsole(t, 100, 30, sim.BoardOptions{})
	d.waitView("▸shell")
	d.typ("e") // named keys work outside focus mode
	d.typ("b")
	d.typ("i")
	d.waitView("TYPING TO THE BOARD", "ctrl+] to stop")
	d.typ("uname -q")
	d.key(tea.KeyEnter)
	// q went to the board, not to the wizard's quit.
	text := d.waitView("$ uname -q")
	if strings.Contains(text, "Quit") || d.m.confirmQuit || d.quit {
		t.Errorf("q in focus mode asked to quit:\n%s", text)
	}
	d.send(tea.PasteMsg{Content: "echo pasted\n"})
	d.waitView("$ echo pasted")
	if text := d.view(); strings.Contains(text, "q quit") || strings.Contains(text, "s skip") {
		t.Errorf("focus mode footer offers wizard keys:\n%s", text)
	}
	// ctrl+c interrupts the board's command; it does not quit the wizard.
	d.send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if text := d.view(); strings.Contains(text, "Quit") || d.m.confirmQuit || d.quit {
		t.Errorf("ctrl+c in focus mode asked to quit:\n%s", text)
	}
	d.send(tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl})
	d.waitView("following")
	d.until("the board to get every key", func() bool { return strings.Contains(string(board.Input()), "\x03") })
	got := string(board.Input())
	if !strings.HasPrefix(got, "\x1b\x1b[23~uname -q\recho pasted\r\x03") {
		t.Errorf("the board got %q", got)
	}
}

func TestConsoleScreenSearchAndScroll(t *testing.T) {
	t.Parallel()
	d, _ := onConsole(t, 80, 24, sim.BoardOptions{})
	d.waitView("▸shell")
	d.typ("/Stage 1")
	d.waitView("search: Stage 1")
	d.key(tea.KeyEnter)
	d.waitView("<<< NixOS Stage 1 >>>", "match at line")
	d.typ("/no such text")
	d.key(tea.KeyEnter)
	d.waitView(`"no such text" not found`)
	d.key(tea.KeyHome)
	d.waitView("paused at line 1 of", "I> MB1 (version")
	d.key(tea.KeyEnd)
	d.waitView("following", "[nixos@nixos:~]$")
}

func TestConsoleScreenSurvivesAnUnplug(t *testing.T) {
	t.Parallel()
	d, board := onConsole(t, 80, 24, sim.BoardOptions{})
	d.waitView("▸shell")
	board.Unplug()
	// On a timeout, who kept the pty's master open (make test-stress once
	// saw the screen stay connected for 2 minutes after the unplug).
	d.untilf(func() string {
		return fmt.Sprintf("the screen to show the unplug; the master is still open in %v", board.MasterHolders())
	}, func() bool {
		v := d.view()
		return strings.Contains(v, "○ unplugged: waiting for") && strings.Contains(v, "the port went away")
	})
	if err := board.Replug(); err != nil {
		t.Fatal(err)
	}
	d.waitView("● connected", "the port is back")
}

func TestConsoleScreenBusyPortFailsThenRetries(t *testing.T) {
	t.Parallel()
	// Another program has the port: its open powers the board, which
	// holds before its first line until the retry has connected.
	o, board := consoleBench(t, sim.BoardOptions{HoldAt: serialcon.StageMB1})
	held, err := serialcon.System{}.Open(board.Path(), serialcon.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d := driveStep(t, 80, 24, o, step.Console)
	d.waitView("✗ stopped", "is in use", "Next: close the other program", "r try again")
	d.waitAttempt(step.Console, "failed", outcome(runrec.Failed))
	held.Close()
	d.typ("r")
	d.waitView("● connected")
	board.Release()
	d.waitView("▸shell")
	attempts := d.steps(step.Console)
	if len(attempts) != 2 || attempts[0].Outcome != runrec.Failed || attempts[0].Cause != "port-busy" ||
		attempts[1].Outcome != runrec.Running || attempts[1].Logs[0] != "console-2.raw" {
		t.Errorf("attempts %+v", attempts)
	}
}
