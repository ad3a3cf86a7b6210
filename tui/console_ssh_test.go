package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// personsKey writes a fresh public key, id_ed25519.pub, in a directory of
// the test's own and returns it as deploy reads it, and the identity that
// names it (the push's ssh_identity fact, which k looks the key up for).
// The tests' home (TestMain) stays empty, so the tests run side by side.
func personsKey(t *testing.T) (deploy.LoginKey, string) {
	t.Helper()
	identity := filepath.Join(t.TempDir(), "id_ed25519")
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(testkit.SSHKey(t)))) + " tech@bench"
	if err := os.WriteFile(identity+".pub", []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := deploy.ParseLoginKey(line)
	if err != nil {
		t.Fatal(err)
	}
	return k, identity
}

func setupBytes(t *testing.T, user string, k *deploy.LoginKey) string {
	t.Helper()
	b, err := deploy.ConsoleSetup(user, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitInput waits until the board has received exactly want: the board's
// echo of the last byte comes back through the console, so each message
// the wizard takes in is a moment to look again.
func waitInput(t *testing.T, d *driver, board *sim.Board, want string) {
	t.Helper()
	d.until("the board to receive the typed commands", func() bool { return string(board.Input()) == want })
}

// simTarget is the simulated push target's fingerprint: the key the
// simulated board's console prints.
var simTarget = sim.NewPushBoard(sim.PushOptions{}).Fingerprint()

// Before the shell prompt k sends nothing and says why; at the prompt it
// types the key in and takes the host key the board prints. The board
// holds before its login prompt until the test has pressed k there, so
// "before" never races the boot.
func TestConsoleSSHKeyInstallsTheKeyAndTakesTheHostKeyAtBothSizes(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		w, h := size[0], size[1]
		key, identity := personsKey(t)
		d, board := onConsole(t, w, h, sim.BoardOptions{HoldAt: serialcon.StageLogin})
		d.m.sess.Facts[step.FactSSHIdentity] = identity
		select {
		case <-board.Held():
		case <-time.After(waitBound):
			t.Fatal("the board never reached its hold before the login prompt")
		}
		d.waitView("● connected", "▸stage-2")
		d.typ("k")
		if w == 200 {
			d.waitView("k: no shell prompt yet", "k, at the board's shell prompt")
		} else {
			d.waitView("k: no shell prompt yet")
		}
		if len(board.Input()) != 0 {
			t.Fatalf("k before the prompt sent %q", board.Input())
		}
		board.Release()

		text := d.waitView("▸shell", "k SSH key to board")
		checkWidth(t, text, w)
		if strings.Contains(text, "k: no shell prompt yet") {
			t.Errorf("the warning outlived the boot moving on:\n%s", text)
		}
		if w == 80 && !strings.Contains(text, "following · k: SSH key · enter: continue with 192.168.55.1") {
			t.Errorf("80x24: the mode line does not offer k:\n%s", text)
		}
		d.typ("k")
		want := []string{"✓ key for root · ✓ host key printed: push will trust it"}
		if w == 200 {
			want = []string{"SSH login", "✓ key typed in for root", "(id_ed25519.pub)", "✓ host key printed:", "the push will trust it",
				"host key   " + simTarget[:20]}
		}
		text = d.waitView(want...)
		checkWidth(t, text, w)
		waitInput(t, d, board, setupBytes(t, "root", &key))
		if d.m.sess.Facts[step.FactHostKey] != simTarget || d.m.sess.Facts[step.FactLoginKey] != key.Fingerprint {
			t.Errorf("facts %v", d.m.sess.Facts)
		}

		d.key(tea.KeyEnter)
		d.waitView("✓ Watch")
		rec := d.m.sess.Run.Snapshot()
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
	t.Parallel()
	_, identity := personsKey(t)
	pub := identity + ".pub"
	// A key whose comment would end the quotes it is typed between.
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(testkit.SSHKey(t)))) + " it's mine"
	if err := os.WriteFile(pub, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, board := onConsole(t, 80, 24, sim.BoardOptions{})
	d.waitView("▸shell")
	d.m.sess.SetFact(step.FactSSHUser, "nixos") // the push logs in as nixos
	d.m.sess.SetFact(step.FactSSHIdentity, identity)
	d.typ("k")
	d.waitView("no SSH key typed in: check the file")
	hostOnly := setupBytes(t, "nixos", nil)
	waitInput(t, d, board, hostOnly)
	if strings.Contains(string(board.Input()), "it's mine") {
		t.Error("the refused key reached the board")
	}
	d.waitView("key " + simTarget[:20])
	if d.m.sess.Facts[step.FactHostKey] != simTarget || d.m.sess.Facts[step.FactLoginKey] != "" {
		t.Errorf("facts %v", d.m.sess.Facts)
	}

	// No key at all (no identity, an empty home, no agent): the next step
	// is to make one.
	d.m.sess.SetFact(step.FactSSHIdentity, "")
	d.typ("k")
	d.waitView("no SSH key typed in: make one: ssh-keygen -t ed25519")
	waitInput(t, d, board, hostOnly+hostOnly)
}

func TestConsoleSSHKeyNotOnTheUEFIShell(t *testing.T) {
	t.Parallel()
	_, identity := personsKey(t)
	d, board := onConsole(t, 80, 24, sim.BoardOptions{Script: []sim.BootLine{
		{After: 0, Text: "UEFI Interactive Shell v2.2"},
		{After: 0, Text: "UEFI v2.70 (EDK II, 0x00010000)"},
		{After: 0, Text: "\x00Shell> "},
	}})
	d.m.sess.Facts[step.FactSSHIdentity] = identity // a key k could type, were this Linux
	text := d.waitView("▸shell")
	if strings.Contains(text, "k SSH key") && strings.Index(text, "k SSH key") < strings.Index(text, "i type to the board") {
		t.Errorf("k is offered first at the UEFI shell:\n%s", text)
	}
	d.typ("k")
	d.waitView("k: this is the UEFI shell")
	if len(board.Input()) != 0 {
		t.Errorf("k at the UEFI shell sent %q", board.Input())
	}
}

// watchThenPush runs the Watch step against a simulated board with
// hostKeys on its console, presses k at the prompt, moves on, then pushes
// to the fast simulated target.
func watchThenPush(t *testing.T, u ui, w int) {
	t.Helper()
	u.waitView("▸shell")
	u.typ("k")
	u.waitView("the push will trust it")
	u.key(tea.KeyEnter)
	u.waitView("✓ Watch")
	u.send(GoToMsg{Step: step.Push})
	u.waitView("Push the system to the board", "192.168.55.1")
	u.key(tea.KeyEnter)
}

// watchPush opens the Watch step on the fast push bench with a console
// board printing hostKeys (the push target's when nil) and the person's
// key named as the push's identity.
func watchPush(t *testing.T, hostKeys []ssh.PublicKey) (*driver, *sim.PushBoard) {
	t.Helper()
	_, identity := personsKey(t)
	o, target := fastBench()
	o.StateDir = t.TempDir()
	co, _ := consoleBench(t, sim.BoardOptions{HostKeys: hostKeys})
	o.Hardware.Serial = co.Hardware.Serial
	d := driveStep(t, 200, 60, o, step.Console)
	d.m.sess.Facts[step.FactSSHIdentity] = identity
	return d, target
}

// From the Watch step's k to the push, which trusts the key the console
// printed.
func TestConsoleSSHKeyThenPushTrustsTheKeyTheBoardPrinted(t *testing.T) {
	t.Parallel()
	d, target := watchPush(t, nil)
	watchThenPush(t, d, 200)
	text := d.waitView("matches the board's console", target.Fingerprint(), "✓ pushed")
	if strings.Contains(text, "First contact") || strings.Contains(text, "y trust this key") {
		t.Errorf("asked about the key the console printed:\n%s", text)
	}
	rec := d.m.sess.Run.Snapshot()
	if rec.Facts[step.FactHostKey] != target.Fingerprint() || rec.Facts[step.FactSSHUser] != "root" {
		t.Errorf("run facts %v", rec.Facts)
	}
}

func TestConsoleSSHKeyThenPushRefusesAKeyTheBoardDidNotPrint(t *testing.T) {
	t.Parallel()
	printed := testkit.SSHKey(t) // the console shows another board's key
	d, target := watchPush(t, []ssh.PublicKey{printed})
	watchThenPush(t, d, 200)
	text := d.waitView("but the board printed "+ssh.FingerprintSHA256(printed)+" on its console", "r push again")
	if strings.Contains(text, "✓ pushed") || strings.Contains(text, "Copy      [") {
		t.Errorf("pushed to a board whose key the console did not print:\n%s", text)
	}
	if !strings.Contains(text, target.Fingerprint()) {
		t.Errorf("the offered key is not shown:\n%s", text)
	}
	if last := d.waitAttempt(step.Push, "refused", outcome(runrec.Refused)); last.Cause != "host-key-mismatch" {
		t.Errorf("push attempt %+v", last)
	}
}
