package tui

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

const pushWait = 60 * time.Second

// fastBench is the simulated bench with a quick board: the same sequence,
// a faster clock.
func fastBench() (Options, *sim.PushBoard) {
	b := sim.Hardware()
	board := sim.NewPushBoard(sim.PushOptions{Rate: 600 << 20, Paths: 120, Bytes: 300 << 20, Pace: 0.1})
	b.Push = sim.EdgeFor(board)
	return Options{Hardware: b, Profile: "orin-nano-devkit", Sim: true}, board
}

// toPush opens the wizard on the push step.
func toPush(t *testing.T, w, h int, o Options) (*teatest.TestModel, *testkit.Screen, *Model) {
	t.Helper()
	tm, scr, m := startWizard(t, w, h, o)
	scr.WaitFor(t, wait, "11 checks:")
	tm.Send(GoToMsg{Step: step.Push})
	scr.WaitFor(t, wait, "Push the system to the board", "192.168.55.1", "./result")
	return tm, scr, m
}

func noWideLines(t *testing.T, text string, w int) {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if n := len([]rune(l)); n > w {
			t.Errorf("line %d is %d columns wide (> %d): %q", i, n, w, l)
		}
	}
}

func TestPushScreenFirstContactPushAndActivateAtBothSizes(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		o, board := fastBench()
		o.StateDir = t.TempDir()
		tm, scr, m := toPush(t, size[0], size[1], o)
		press(tm, tea.KeyEnter)
		text := scr.WaitFor(t, pushWait, "First contact", board.Fingerprint(), "y trust this key")
		noWideLines(t, text, size[0])
		tm.Type("y")
		text = scr.WaitFor(t, pushWait, "✓ pinned now: confirmed by you", "✓ architecture", "121 paths", "installation finished!", "✓ pushed", "enter continue")
		noWideLines(t, text, size[0])
		if !strings.Contains(text, "Copy      [") || !strings.Contains(text, "100%") {
			t.Errorf("%dx%d: no finished progress bar:\n%s", size[0], size[1], text)
		}
		press(tm, tea.KeyEnter)
		scr.WaitFor(t, wait, "✓ Push", "Summary")
		rec := m.sess.Run.Snapshot()
		var last runrec.StepRecord // the push's attempt: Verify starts after it
		for _, s := range rec.Steps {
			if s.Step == step.Push {
				last = s
			}
		}
		if last.Step != step.Push || last.Outcome != runrec.Success || len(last.Logs) != 1 {
			t.Fatalf("push step record %+v", last)
		}
		var res deploy.Result
		if err := json.Unmarshal(last.Details, &res); err != nil || res.Sent != 121 || res.Mode != deploy.Installer {
			t.Errorf("details %s (%v)", last.Details, err)
		}
		if rec.Facts[step.FactHostKey] != board.Fingerprint() {
			t.Errorf("facts %v", rec.Facts)
		}
	}
}

func TestPushScreenRefusedKeyThenPushAgain(t *testing.T) {
	o, _ := fastBench()
	o.StateDir = t.TempDir()
	tm, scr, m := toPush(t, 80, 24, o)
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, pushWait, "First contact")
	tm.Type("n")
	scr.WaitFor(t, pushWait, "✗ you did not trust the host key", "next:", "r push again")
	rec := m.sess.Run.Snapshot()
	if last := rec.Steps[len(rec.Steps)-1]; last.Outcome != runrec.Refused || last.Cause != "host-key-rejected" {
		t.Errorf("refused attempt %+v", last)
	}
	tm.Type("r")
	scr.WaitFor(t, pushWait, "First contact")
	tm.Type("y")
	scr.WaitFor(t, pushWait, "✓ pushed")
	rec = m.sess.Run.Snapshot()
	if last := rec.Steps[len(rec.Steps)-1]; last.Attempt != 2 || last.Outcome != runrec.Running {
		t.Errorf("second attempt %+v", last)
	}
}

func TestPushScreenChangedKeyIsRefusedUntilForgotten(t *testing.T) {
	o, board := fastBench()
	o.StateDir = t.TempDir()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	old, _ := ssh.NewPublicKey(pub)
	kh := remote.KnownHosts{File: filepath.Join(o.StateDir, "known_hosts.sim")}
	if err := kh.Pin("192.168.55.1:22", old); err != nil {
		t.Fatal(err)
	}
	tm, scr, _ := toPush(t, 80, 24, o)
	press(tm, tea.KeyEnter)
	text := scr.WaitFor(t, pushWait, "CHANGED", "f forget old key")
	if !strings.Contains(text, board.Fingerprint()) || strings.Contains(text, "Copy ") {
		t.Errorf("changed key screen:\n%s", text)
	}
	tm.Type("f")
	scr.WaitFor(t, pushWait, "✓ pushed")
	if pinned, _ := kh.Pinned("192.168.55.1:22"); len(pinned) != 1 || remote.Fingerprint(pinned[0]) != board.Fingerprint() {
		t.Errorf("pinned after forgetting: %v", pinned)
	}
}

func TestPushScreenTrustsTheKeyTheConsolePrinted(t *testing.T) {
	o, board := fastBench()
	o.StateDir = t.TempDir()
	tm, scr, m := startWizard(t, 80, 24, o)
	scr.WaitFor(t, wait, "11 checks:")
	m.sess.Facts[step.FactHostKey] = board.Fingerprint()
	m.sess.Facts[step.FactIP] = "192.168.55.1"
	tm.Send(GoToMsg{Step: step.Push})
	scr.WaitFor(t, wait, "Push the system to the board")
	press(tm, tea.KeyEnter)
	text := scr.WaitFor(t, pushWait, "matches the board's console", "✓ pushed")
	if strings.Contains(text, "First contact") {
		t.Error("asked about a key the console vouched for")
	}
}

func TestPushScreenFormSaysWhatIsMissing(t *testing.T) {
	o, _ := fastBench()
	o.StateDir = t.TempDir()
	tm, scr, _ := toPush(t, 80, 24, o)
	tm.Type("e")
	scr.WaitFor(t, wait, "▸ Host", "esc done editing")
	for range 20 {
		press(tm, tea.KeyBackspace)
	}
	tm.Type("q") // typed into the field, not a quit
	press(tm, tea.KeyTab)
	press(tm, tea.KeyBackspace, tea.KeyBackspace)
	tm.Type("x")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, `✗ port "x" is not a port number`)
	press(tm, tea.KeyBackspace)
	tm.Type("22")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, pushWait, "cannot reach the board at q:22")
}

func TestPushScreenCancelStopsTheCopy(t *testing.T) {
	b := sim.Hardware()
	board := sim.NewPushBoard(sim.PushOptions{Rate: 20 << 20, Paths: 200, Bytes: 400 << 20, Pace: 0.1})
	b.Push = sim.EdgeFor(board)
	o := Options{Hardware: b, Profile: "orin-nano-devkit", Sim: true, StateDir: t.TempDir()}
	tm, scr, m := toPush(t, 80, 24, o)
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, pushWait, "First contact")
	tm.Type("y")
	scr.WaitFor(t, pushWait, "Copy      [", "x cancel push")
	tm.Type("x")
	scr.WaitFor(t, pushWait, "✗ push cancelled", "r push again")
	rec := m.sess.Run.Snapshot()
	if last := rec.Steps[len(rec.Steps)-1]; last.Outcome != runrec.Cancelled {
		t.Errorf("cancelled attempt %+v", last)
	}
	if m.sess.Busy() {
		t.Error("the push task still runs after a cancel")
	}
}
