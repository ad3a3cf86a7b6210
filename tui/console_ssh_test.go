package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// personsKey gives the test a home of its own with ~/.ssh/id_ed25519.pub
// (no agent), and returns the key as deploy reads it.
func personsKey(t *testing.T) deploy.LoginKey {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(testkit.SSHKey(t)))) + " tech@bench"
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := deploy.ParseLoginKey(line)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func setupBytes(t *testing.T, user string, k *deploy.LoginKey) string {
	t.Helper()
	b, err := deploy.ConsoleSetup(user, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitInput waits until the board has received exactly want.
func waitInput(t *testing.T, board *sim.Board, want string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for string(board.Input()) != want {
		if time.Now().After(deadline) {
			t.Fatalf("the board got\n%q\nwant\n%q", board.Input(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// simTarget is the simulated push target's fingerprint: the key the
// simulated board's console prints.
var simTarget = sim.NewPushBoard(sim.PushOptions{}).Fingerprint()

func TestConsoleSSHKeyInstallsTheKeyAndTakesTheHostKeyAtBothSizes(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		w, h := size[0], size[1]
		key := personsKey(t)
		// The board holds before its login prompt until the test has
		// pressed k there: before the shell prompt k sends nothing and says
		// why.
		tm, scr, m, board := startConsoleWith(t, w, h, sim.BoardOptions{Speed: 20, HoldAt: serialcon.StageLogin})
		select {
		case <-board.Held():
		case <-time.After(bootWait):
			t.Fatal("the board never reached its hold before the login prompt")
		}
		scr.WaitFor(t, bootWait, "● connected", "▸stage-2")
		tm.Type("k")
		if w == 200 {
			scr.WaitFor(t, wait, "k: no shell prompt yet", "k, at the board's shell prompt")
		} else {
			scr.WaitFor(t, wait, "k: no shell prompt yet")
		}
		if len(board.Input()) != 0 {
			t.Fatalf("k before the prompt sent %q", board.Input())
		}
		board.Release()

		text := scr.WaitFor(t, bootWait, "▸shell", "k SSH key to board")
		checkWidth(t, text, w)
		if w == 80 && !strings.Contains(text, "following · k: SSH key · enter: continue with 192.168.55.1") {
			t.Errorf("80x24: the mode line does not offer k:\n%s", text)
		}
		tm.Type("k")
		want := []string{"✓ key for root · ✓ host key printed: push will trust it"}
		if w == 200 {
			want = []string{"SSH login", "✓ key typed in for root", "(id_ed25519.pub)", "✓ host key printed:", "the push will trust it",
				"host key   " + simTarget[:20]}
		}
		text = scr.WaitFor(t, wait, want...)
		checkWidth(t, text, w)
		waitInput(t, board, setupBytes(t, "root", &key))
		if m.sess.Facts[step.FactHostKey] != simTarget || m.sess.Facts[step.FactLoginKey] != key.Fingerprint {
			t.Errorf("facts %v", m.sess.Facts)
		}

		tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		scr.WaitFor(t, wait, "✓ Watch")
		rec := m.sess.Run.Snapshot()
		for _, st := range rec.Steps {
			if st.Step == step.Console && (st.Outcome != runrec.Success ||
				!strings.Contains(st.Summary, "host-key "+simTarget) || !strings.Contains(st.Summary, "SSH key typed in for root")) {
				t.Errorf("console step record %+v", st)
			}
		}
		if rec.Facts[step.FactHostKey] != simTarget {
			t.Errorf("run record facts %v", rec.Facts)
		}
	}
}

func TestConsoleSSHKeyWithoutAUsableKeyStillAsksForTheHostKey(t *testing.T) {
	personsKey(t)
	home := os.Getenv("HOME")
	pub := filepath.Join(home, ".ssh", "id_ed25519.pub")
	// A key whose comment would end the quotes it is typed between.
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(testkit.SSHKey(t)))) + " it's mine"
	if err := os.WriteFile(pub, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, scr, m, board := startConsole(t, 80, 24)
	scr.WaitFor(t, bootWait, "▸shell")
	m.sess.SetFact(step.FactSSHUser, "nixos") // the push logs in as nixos
	tm.Type("k")
	scr.WaitFor(t, wait, "no SSH key typed in: check the file")
	hostOnly := setupBytes(t, "nixos", nil)
	waitInput(t, board, hostOnly)
	if strings.Contains(string(board.Input()), "it's mine") {
		t.Error("the refused key reached the board")
	}
	scr.WaitFor(t, wait, "key "+simTarget[:20])
	if m.sess.Facts[step.FactHostKey] != simTarget || m.sess.Facts[step.FactLoginKey] != "" {
		t.Errorf("facts %v", m.sess.Facts)
	}

	// No key at all: the next step is to make one.
	if err := os.Remove(pub); err != nil {
		t.Fatal(err)
	}
	tm.Type("k")
	scr.WaitFor(t, wait, "no SSH key typed in: make one: ssh-keygen -t ed25519")
	waitInput(t, board, hostOnly+hostOnly)
}

func TestConsoleSSHKeyNotOnTheUEFIShell(t *testing.T) {
	personsKey(t)
	board, err := sim.NewBoard(sim.BoardOptions{Dir: t.TempDir(), Speed: 20, Script: []sim.BootLine{
		{After: 0, Text: "UEFI Interactive Shell v2.2"},
		{After: 0, Text: "UEFI v2.70 (EDK II, 0x00010000)"},
		{After: 0, Text: "\x00Shell> "},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(board.Close)
	b := sim.Hardware()
	b.Serial = board
	tm, scr, _ := startWizard(t, 80, 24, Options{Profile: "orin-nano-devkit", Hardware: b})
	scr.WaitFor(t, wait, "Check host")
	tm.Send(GoToMsg{Step: step.Console})
	text := scr.WaitFor(t, bootWait, "▸shell")
	if strings.Contains(text, "k SSH key") && strings.Index(text, "k SSH key") < strings.Index(text, "i type to the board") {
		t.Errorf("k is offered first at the UEFI shell:\n%s", text)
	}
	tm.Type("k")
	scr.WaitFor(t, wait, "k: this is the UEFI shell")
	if len(board.Input()) != 0 {
		t.Errorf("k at the UEFI shell sent %q", board.Input())
	}
}

// watchThenPush runs the wizard's Watch step against a simulated board
// with hostKeys on its console, presses k at the prompt, moves on, then
// pushes to the fast simulated target.
func watchThenPush(t *testing.T, w, h int, hostKeys []ssh.PublicKey) (*teatest.TestModel, *testkit.Screen, *Model, *sim.PushBoard) {
	t.Helper()
	personsKey(t)
	o, target := fastBench()
	o.StateDir = t.TempDir()
	board, err := sim.NewBoard(sim.BoardOptions{Dir: t.TempDir(), Speed: 20, HostKeys: hostKeys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(board.Close)
	o.Hardware.Serial = board
	tm, scr, m := startWizard(t, w, h, o)
	scr.WaitFor(t, wait, "11 checks:")
	tm.Send(GoToMsg{Step: step.Console})
	scr.WaitFor(t, bootWait, "▸shell")
	tm.Type("k")
	scr.WaitFor(t, wait, "the push will trust it")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "✓ Watch")
	tm.Send(GoToMsg{Step: step.Push})
	scr.WaitFor(t, wait, "Push the system to the board", "192.168.55.1")
	press(tm, tea.KeyEnter)
	return tm, scr, m, target
}

func TestConsoleSSHKeyThenPushTrustsTheKeyTheBoardPrinted(t *testing.T) {
	_, scr, m, target := watchThenPush(t, 200, 60, nil)
	text := scr.WaitFor(t, pushWait, "matches the board's console", target.Fingerprint(), "✓ pushed")
	if strings.Contains(text, "First contact") || strings.Contains(text, "y trust this key") {
		t.Errorf("asked about the key the console printed:\n%s", text)
	}
	rec := m.sess.Run.Snapshot()
	if rec.Facts[step.FactHostKey] != target.Fingerprint() || rec.Facts[step.FactSSHUser] != "root" {
		t.Errorf("run facts %v", rec.Facts)
	}
}

func TestConsoleSSHKeyThenPushRefusesAKeyTheBoardDidNotPrint(t *testing.T) {
	printed := testkit.SSHKey(t) // the console shows another board's key
	_, scr, m, target := watchThenPush(t, 200, 60, []ssh.PublicKey{printed})
	text := scr.WaitFor(t, pushWait, "but the board printed "+ssh.FingerprintSHA256(printed)+" on its console", "r push again")
	if strings.Contains(text, "✓ pushed") || strings.Contains(text, "Copy      [") {
		t.Errorf("pushed to a board whose key the console did not print:\n%s", text)
	}
	if !strings.Contains(text, target.Fingerprint()) {
		t.Errorf("the offered key is not shown:\n%s", text)
	}
	rec := m.sess.Run.Snapshot()
	if last := rec.Steps[len(rec.Steps)-1]; last.Step != step.Push || last.Outcome != runrec.Refused || last.Cause != "host-key-mismatch" {
		t.Errorf("push attempt %+v", last)
	}
}
