package tui

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// fastBench is the simulated bench with a quick board: the same sequence,
// a faster clock.
func fastBench() (Options, *sim.PushBoard) {
	b := sim.Hardware()
	board := sim.NewPushBoard(sim.PushOptions{Rate: 600 << 20, Paths: 120, Bytes: 300 << 20, Pace: 0.01})
	b.Push = sim.EdgeFor(board)
	return Options{Hardware: b, Profile: "orin-nano-devkit", Sim: true}, board
}

// onPush opens the wizard on the push step and waits for its form.
func onPush(t *testing.T, w, h int, o Options) *driver {
	t.Helper()
	d := driveStep(t, w, h, o, step.Push)
	d.waitView("Push the system to the board", "192.168.55.1", "./result")
	return d
}

func TestPushScreenFirstContactPushAndActivateAtBothSizes(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		o, board := fastBench()
		o.StateDir = t.TempDir()
		pushFirstContact(t, onPush(t, size[0], size[1], o), board, size[0])
	}
}

// The push screen's walk through a real program, from the host check.
func TestPushWalk(t *testing.T) {
	t.Parallel()
	o, board := fastBench()
	o.StateDir = t.TempDir()
	p := runProgram(t, 80, 24, o)
	p.waitView("12 checks:")
	p.send(GoToMsg{Step: step.Push})
	p.waitView("Push the system to the board", "192.168.55.1", "./result")
	pushFirstContact(t, p, board, 80)
}

// pushFirstContact: a new board's key is asked about, trusted, pinned; the
// push runs to the end and enter records it.
func pushFirstContact(t *testing.T, u ui, board *sim.PushBoard, w int) {
	t.Helper()
	u.key(tea.KeyEnter)
	text := u.waitView("First contact", board.Fingerprint(), "y trust this key")
	checkWidth(t, text, w)
	u.typ("y")
	text = u.waitView("✓ pinned now: confirmed by you", "✓ architecture", "121 paths", "installation finished!", "✓ pushed", "enter continue")
	checkWidth(t, text, w)
	if !strings.Contains(text, "Copy      [") || !strings.Contains(text, "100%") {
		t.Errorf("%d columns: no finished progress bar:\n%s", w, text)
	}
	u.key(tea.KeyEnter)
	u.waitView("✓ Push", "Summary")
	m := u.model()
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

func TestPushScreenRefusedKeyThenPushAgain(t *testing.T) {
	t.Parallel()
	o, _ := fastBench()
	o.StateDir = t.TempDir()
	d := onPush(t, 80, 24, o)
	d.key(tea.KeyEnter)
	d.waitView("First contact")
	d.typ("n")
	d.waitView("✗ you did not trust the host key", "next:", "r push again")
	if last := d.waitAttempt(step.Push, "refused", outcome(runrec.Refused)); last.Cause != "host-key-rejected" {
		t.Errorf("refused attempt %+v", last)
	}
	d.typ("r")
	d.waitView("First contact")
	d.typ("y")
	d.waitView("✓ pushed")
	rec := d.m.sess.Run.Snapshot()
	if last := rec.Steps[len(rec.Steps)-1]; last.Attempt != 2 || last.Outcome != runrec.Running || len(last.Logs) != 1 {
		t.Errorf("second attempt %+v (it runs in its own attempt, with its own log)", last)
	}
}

// A retry pressed while the refused attempt's end is still on its way to
// the root: the first attempt is recorded as refused, the push runs in the
// second, and that end arriving again (late, stale) does not end it.
func TestPushRetryBeforeTheRootHasTheRefusal(t *testing.T) {
	t.Parallel()
	o, _ := fastBench()
	o.StateDir = t.TempDir()
	d := onPush(t, 80, 24, o)
	var stale DoneMsg
	held := make(chan struct{})
	first := true // only the first end is held; a second goes through
	d.holdBack(func(msg tea.Msg) bool {
		dm, ok := msg.(DoneMsg)
		if ok && first {
			stale, first = dm, false
			close(held)
			return true
		}
		return false
	})
	d.key(tea.KeyEnter)
	d.waitView("First contact")
	d.typ("n")
	d.waitView("✗ you did not trust the host key", "r push again")
	select { // no message follows it: an event, not the model's, says it is held
	case <-held:
	case <-time.After(waitBound):
		t.Fatal("waited for the refusal's end to be on its way to the root")
	}
	d.typ("r")
	d.waitView("First contact")
	d.release()
	pushes := d.steps(step.Push)
	if len(pushes) != 2 || pushes[0].Outcome != runrec.Refused || pushes[0].Cause != "host-key-rejected" ||
		pushes[1].Outcome != runrec.Running || len(pushes[1].Logs) != 1 {
		t.Fatalf("push attempts after the late end %+v", pushes)
	}
	if stale.Attempt == nil {
		t.Fatal("the push's end does not say which attempt it ends")
	}
	// The first attempt's end once more, as the root could get it: the
	// root drops it, the second attempt goes on.
	d.send(stale)
	if pushes := d.steps(step.Push); len(pushes) != 2 || pushes[1].Outcome != runrec.Running {
		t.Fatalf("a stale end ended the running attempt: %+v", pushes)
	}
	d.typ("y")
	d.waitView("✓ pushed")
	d.key(tea.KeyEnter)
	d.waitAttempt(step.Push, "a success", outcome(runrec.Success))
	if pushes := d.steps(step.Push); len(pushes) != 2 || pushes[0].Outcome != runrec.Refused {
		t.Errorf("push attempts %+v", pushes)
	}
}

func TestPushScreenChangedKeyIsRefusedUntilForgotten(t *testing.T) {
	t.Parallel()
	o, board := fastBench()
	o.StateDir = t.TempDir()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	old, _ := ssh.NewPublicKey(pub)
	d := onPush(t, 80, 24, o)
	// Pinned for this board (its run) before: the board now offers
	// another key at the same address.
	kh := remote.KnownHosts{File: d.m.sess.knownHosts()}
	if err := kh.Pin("192.168.55.1:22", old); err != nil {
		t.Fatal(err)
	}
	d.key(tea.KeyEnter)
	text := d.waitView("CHANGED", "f forget old key")
	if !strings.Contains(text, board.Fingerprint()) || strings.Contains(text, "Copy ") {
		t.Errorf("changed key screen:\n%s", text)
	}
	d.typ("f")
	d.waitView("✓ pushed")
	if pinned, _ := kh.Pinned("192.168.55.1:22"); len(pinned) != 1 || remote.Fingerprint(pinned[0]) != board.Fingerprint() {
		t.Errorf("pinned after forgetting: %v", pinned)
	}
}

func TestPushScreenTrustsTheKeyTheConsolePrinted(t *testing.T) {
	t.Parallel()
	o, board := fastBench()
	o.StateDir = t.TempDir()
	d := newDriver(t, o)
	d.m.sess.Facts[step.FactHostKey] = board.Fingerprint()
	d.m.sess.Facts[step.FactIP] = "192.168.55.1"
	d.openStep(80, 24, step.Push)
	d.waitView("Push the system to the board")
	d.key(tea.KeyEnter)
	text := d.waitView("matches the board's console", "✓ pushed")
	if strings.Contains(text, "First contact") {
		t.Error("asked about a key the console vouched for")
	}
}

func TestPushScreenFormSaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	o, _ := fastBench()
	o.StateDir = t.TempDir()
	d := onPush(t, 80, 24, o)
	d.typ("e")
	d.waitView("▸ Host", "esc done editing")
	for range 20 {
		d.key(tea.KeyBackspace)
	}
	d.typ("q") // typed into the field, not a quit
	if d.m.confirmQuit || d.quit {
		t.Fatal("q in the host field quit the wizard")
	}
	d.key(tea.KeyTab)
	d.key(tea.KeyBackspace, tea.KeyBackspace)
	d.typ("x")
	d.key(tea.KeyEnter)
	d.waitView(`✗ port "x" is not a port number`)
	d.key(tea.KeyBackspace)
	d.typ("22")
	d.key(tea.KeyEnter)
	d.waitView("cannot reach the board at q:22")
}

func TestPushScreenCancelStopsTheCopy(t *testing.T) {
	t.Parallel()
	b := sim.Hardware()
	board := sim.NewPushBoard(sim.PushOptions{Rate: 20 << 20, Paths: 200, Bytes: 400 << 20, Pace: 0.1})
	b.Push = sim.EdgeFor(board)
	o := Options{Hardware: b, Profile: "orin-nano-devkit", Sim: true, StateDir: t.TempDir()}
	d := onPush(t, 80, 24, o)
	d.key(tea.KeyEnter)
	d.waitView("First contact")
	d.typ("y")
	d.waitView("Copy      [", "x cancel push")
	d.typ("x")
	d.waitView("✗ push cancelled", "r push again")
	d.waitAttempt(step.Push, "cancelled", outcome(runrec.Cancelled))
	if d.m.sess.Busy() {
		t.Error("the push task still runs after a cancel")
	}
}

// With no address, the push screen offers an offline bundle instead: o
// writes one against the manifest jetup keeps for the board's host key,
// and says what to do when there is none.
func TestPushScreenOffersAnOfflineBundleWithoutAnAddress(t *testing.T) {
	t.Parallel()
	o, _ := fastBench()
	o.StateDir = t.TempDir()
	d := onPush(t, 80, 24, o)
	d.typ("e")
	for range "192.168.55.1" {
		d.key(tea.KeyBackspace)
	}
	d.key(tea.KeyEscape)
	d.waitView("No address? o writes an offline bundle", "o write an offline bundle")
	d.typ("o")
	d.waitView("Offline bundle", "✗ no host key for this board yet", "e edit target")
	d.typ("e")
	d.key(tea.KeyEscape)
	fp := "SHA256:sm7jhd934CJSOe3Gm19VAuGzK8xmAsnDcm81PUtpBu0"
	d.m.sess.SetFact(step.FactHostKey, fp)
	d.typ("o")
	d.waitView("Offline bundle", "no manifest recorded for", fp, "jetup manifest --host")
}
