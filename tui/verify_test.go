package tui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// verifySession is a session on the simulated Orin Nano devkit after its
// push: the console vouched for its host key, as the Watch step's k does.
func verifySession(t *testing.T, failure string, vouched bool) (*Session, *sim.PushBoard) {
	t.Helper()
	b := sim.Hardware()
	board := sim.NewPushBoard(sim.PushOptions{Pace: 0.001})
	board.Verifier().Failure = failure
	b.Push = sim.EdgeFor(board)
	b.Verify = sim.VerifyEdgeFor(board)
	s := newSession(b, t.TempDir(), "test")
	set, errs := profiles.Load(assets.Profiles(), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s.Profile, _ = set.Get("orin-nano-devkit")
	s.Facts[step.FactIP] = sim.BoardAddress
	if vouched {
		s.Facts[step.FactHostKey] = board.Fingerprint()
	}
	t.Cleanup(func() { s.end(runrec.Cancelled) })
	return s, board
}

// pump runs cmd as Bubble Tea would and gives every message it yields to
// the screen, until stop says a message is the one awaited (that one is
// returned, not given). Spinner ticks are dropped: the view is checked as
// text, and their timer would keep the loop going.
func pump(t *testing.T, sc Screen, cmd tea.Cmd, stop func(tea.Msg) bool) (Screen, tea.Msg) {
	t.Helper()
	msgs := make(chan tea.Msg, 64)
	var stopped tea.Msg
	run := func(c tea.Cmd) {
		if c != nil {
			go func() { msgs <- c() }()
		}
	}
	run(cmd)
	// handle takes one message; true when it is the one stop waits for.
	var handle func(msg tea.Msg) bool
	handle = func(msg tea.Msg) bool {
		switch msg := msg.(type) {
		case tea.BatchMsg:
			for _, c := range msg {
				run(c)
			}
			return false
		case spinner.TickMsg, nil:
			return false
		}
		if cmds, ok := sequence(msg); ok { // in order, each taken before the next runs
			for _, c := range cmds {
				if c != nil && handle(c()) {
					return true
				}
			}
			return false
		}
		if stop(msg) {
			stopped = msg
			return true
		}
		var next tea.Cmd
		sc, next = sc.Update(msg)
		run(next)
		return false
	}
	deadline := time.After(wait)
	for {
		select {
		case msg := <-msgs:
			if handle(msg) {
				return sc, stopped
			}
		case <-deadline:
			t.Fatalf("the screen never got there; it shows:\n%s", ansi.Strip(sc.View()))
		}
	}
}

// begin opens the screen as the wizard does with no push in this run: it
// waits, then enter starts the checks.
func begin(t *testing.T, sc Screen) (Screen, tea.Cmd) {
	t.Helper()
	if cmd := sc.Init(); cmd != nil {
		t.Fatal("the checks started with no push in this run")
	}
	if k := sc.Keys(); len(k) != 2 || k[0].Help().Desc != "verify" || k[1].Help().Desc != "checks' options" {
		t.Fatalf("keys before a start: %v", k)
	}
	return sc.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
}

func isDone(m tea.Msg) bool { _, ok := m.(DoneMsg); return ok }

func taskDone(m tea.Msg) bool { _, ok := m.(TaskDoneMsg); return ok }

func TestVerifyScreenShowsEveryVerdictAndContinuesOnEnter(t *testing.T) {
	t.Parallel()
	s, _ := verifySession(t, "", true)
	sc := newVerifyScreen(s, DefaultStyles())
	sc.SetSize(80, 24)
	sc, start := begin(t, sc)
	sc, last := pump(t, sc, start, taskDone)
	sc, _ = sc.Update(last)
	view := ansi.Strip(sc.View())
	// No push in this session and no record of one: nothing to compare
	// the running system with.
	for _, want := range []string{"Verify root@192.168.55.1", "✓ pinned now: matches the board's console", "– Booted system  runs nixos-system-nixos-24.11",
		"✓ Jetson GPU     Orin GPU (nvgpu)", "✓ k3s node       node nixos is Ready", "✓ CUDA sample    cuda-test passed: Device 0: \"Orin\"",
		"✓ the board works: 7 ok, 0 warn, 0 failed, 1 not enabled"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	checkWidth(t, view, 80)
	sc, enter := sc.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	_, msg := pump(t, sc, enter, isDone)
	d := msg.(DoneMsg)
	res, ok := d.Details.(*verify.Result)
	if d.Outcome != runrec.Success || !ok || res.Failed != 0 || len(res.Checks) != 8 {
		t.Errorf("done %+v", d)
	}
}

func TestVerifyScreenNamesAFailedUnitWithItsJournalAndRetries(t *testing.T) {
	t.Parallel()
	s, board := verifySession(t, "failed-unit", true)
	sc := newVerifyScreen(s, DefaultStyles())
	sc.SetSize(100, 40)
	sc, start := begin(t, sc)
	sc, msg := pump(t, sc, start, isDone)
	d := msg.(DoneMsg)
	if d.Outcome != runrec.Failed || !strings.Contains(d.Summary, "failed: failed-units") {
		t.Errorf("done %+v", d)
	}
	view := ansi.Strip(sc.View())
	for _, want := range []string{"✗ Failed units   1 failed: nvpmodel.service", "nvpmodel.service (NVIDIA Jetson nvpmodel):",
		"next: read `journalctl -b -u nvpmodel.service`", "✗ 6 ok, 0 warn, 1 failed, 1 not enabled", "r verifies again"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	if k := sc.Keys(); len(k) != 2 || k[0].Help().Key != "r" || k[1].Help().Key != "o" {
		t.Errorf("keys %v", k)
	}
	// Fixed on the board: r runs every check again, as a new attempt.
	board.Verifier().Failure = ""
	sawRetry := false
	sc, again := sc.Update(tea.KeyPressMsg{Code: 'r', Text: "r"})
	_, _ = pump(t, sc, again, func(m tea.Msg) bool {
		if _, ok := m.(RetryMsg); ok {
			sawRetry = true
		}
		_, done := m.(TaskDoneMsg)
		return done
	})
	if !sawRetry {
		t.Error("r did not start a new attempt")
	}
}

func TestVerifyScreenAsksAboutANewKeyAndSaysWhenNoBoardIsKnown(t *testing.T) {
	t.Parallel()
	s, board := verifySession(t, "", false)
	sc := newVerifyScreen(s, DefaultStyles())
	sc.SetSize(80, 24)
	asked := func(tea.Msg) bool { return strings.Contains(ansi.Strip(sc.View()), "First contact") }
	var cmd tea.Cmd
	sc, start := begin(t, sc)
	sc, _ = pump(t, sc, start, func(m tea.Msg) bool {
		if te, ok := m.(TaskEventMsg); ok {
			sc, cmd = sc.Update(te)
			return asked(m)
		}
		return false
	})
	if view := ansi.Strip(sc.View()); !strings.Contains(view, board.Fingerprint()) || !strings.Contains(view, "y trusts and pins it") {
		t.Fatalf("no question:\n%s", view)
	}
	next := sc.(*verifyScreen).key(tea.KeyPressMsg{Code: 'n', Text: "n"})
	sc, msg := pump(t, sc, tea.Batch(cmd, next), isDone)
	if d := msg.(DoneMsg); d.Outcome != runrec.Refused {
		t.Errorf("refused key: %+v", d)
	}
	if view := ansi.Strip(sc.View()); !strings.Contains(view, "you did not trust the host key") {
		t.Errorf("view:\n%s", view)
	}

	none := newSession(sim.Hardware(), t.TempDir(), "test")
	none.Hardware.Sim = false
	t.Cleanup(func() { none.end(runrec.Cancelled) })
	empty := newVerifyScreen(none, DefaultStyles())
	empty.SetSize(80, 24)
	if cmd := empty.Init(); cmd != nil || !strings.Contains(empty.View(), "No board address yet") {
		t.Errorf("no board: %q", empty.View())
	}
}

func TestSummaryShowsTheVerdicts(t *testing.T) {
	t.Parallel()
	res := verify.Result{Checks: []verify.Check{{ID: "cuda", Title: "CUDA sample", Status: verify.Fail, Detail: "cuda-test failed: x\nmore"},
		{ID: "k3s-node", Title: "k3s node", Status: verify.OK, Detail: "Ready"}}}
	b, _ := json.Marshal(res)
	lines := verifyVerdicts(DefaultStyles(), b, 80)
	if len(lines) != 1 || !strings.Contains(ansi.Strip(lines[0]), "✗ CUDA sample    cuda-test failed: x") {
		t.Errorf("%q", lines)
	}
	res.Checks[0].Status = verify.OK
	b, _ = json.Marshal(res)
	if lines := verifyVerdicts(DefaultStyles(), b, 80); len(lines) != 1 || !strings.Contains(ansi.Strip(lines[0]), "all 2 checks passed") {
		t.Errorf("%q", lines)
	}
}

// The wizard's walk: Verify follows Push on the board the push reached,
// compares the running system with the one pushed, and the Summary shows
// the verdicts.
func TestWizardVerifiesAfterPushAndSummarisesTheVerdicts(t *testing.T) {
	t.Parallel()
	o, board := fastBench()
	o.Hardware.Verify = sim.VerifyEdgeFor(board)
	o.StateDir = t.TempDir()
	p := runProgram(t, 100, 40, o)
	p.waitView("12 checks:")
	p.send(GoToMsg{Step: step.Push})
	p.waitView("Push the system to the board", "192.168.55.1", "./result")
	p.key(tea.KeyEnter)
	p.waitView("First contact", board.Fingerprint())
	p.typ("y")
	p.waitView("✓ pushed", "enter continue")
	p.key(tea.KeyEnter)
	p.waitView("✓ pinned ssh-ed25519", "✓ Booted system  runs the pushed", "✓ k3s storage", "✓ the board works: 8 ok", "enter continue")
	p.key(tea.KeyEnter)
	p.waitView("✓ Verify", "all 8 checks passed", "n starts the next board")
	m := p.m
	rec := m.sess.Run.Snapshot()
	last := rec.Steps[len(rec.Steps)-1]
	if last.Step != step.Verify || last.Outcome != runrec.Success || len(last.Logs) != 1 {
		t.Errorf("verify step %+v", last)
	}
}

// The Verify step driven as the wizard runs it: a board whose unit failed
// is asked about its key, fails, is recorded as a failed attempt, and r
// after the fix is a second attempt that passes.
func TestVerifyStepRecordsAFailureAndASecondAttempt(t *testing.T) {
	hw := sim.Hardware()
	board := sim.NewPushBoard(sim.PushOptions{Pace: 0.001})
	board.Verifier().Failure = "failed-unit"
	hw.Push = sim.EdgeFor(board)
	hw.Verify = sim.VerifyEdgeFor(board)
	d := driveStep(t, 100, 40, Options{Hardware: hw, Profile: "orin-nano-devkit", Sim: true}, step.Verify)
	d.waitView("Verify the board", "enter checks root@192.168.55.1")
	d.key(tea.KeyEnter)
	d.waitView("First contact", board.Fingerprint(), "y trusts and pins it")
	d.typ("y")
	d.waitView("✗ Failed units   1 failed: nvpmodel.service", "next: read `journalctl -b -u nvpmodel.service`", "r verifies again")
	first := d.waitAttempt(step.Verify, "failed", outcome(runrec.Failed))
	if first.Attempt != 1 || !strings.Contains(first.Summary, "failed: failed-units") || len(first.Logs) != 1 {
		t.Errorf("first attempt %+v", first)
	}
	board.Verifier().Failure = ""
	d.typ("r")
	d.waitView("✓ pinned ssh-ed25519", "✓ Failed units   no failed units", "✓ the board works", "enter continue")
	d.key(tea.KeyEnter)
	second := d.waitAttempt(step.Verify, "successful", outcome(runrec.Success))
	if second.Attempt != 2 || len(second.Details) == 0 || len(second.Logs) != 1 {
		t.Errorf("second attempt %+v (with its own log)", second)
	}
	d.waitView("Summary", "– Booted system", "✓ Verify")
}

// A check's detail quotes the board (a unit's journal): its escape
// sequences never reach the person's terminal through the view.
func TestVerifyViewDropsTheBoardsEscapes(t *testing.T) {
	r := newVerifyRun(verify.Options{})
	r.event(verify.Check{ID: "failed-units", Status: verify.Fail,
		Detail: "1 failed\x1b]52;c;cm0gLXJmIH4K\x07\nmsg\x1b[2J from the journal", Next: "look\x1b[H"})
	r.event(verify.Waiting{ID: "k3s-node", What: "k3s\x1b[2J"})
	for _, s := range []string{r.checks["failed-units"].Detail, r.checks["failed-units"].Next, r.waiting["k3s-node"].What} {
		if strings.ContainsRune(s, 0x1b) || strings.ContainsRune(s, 0x07) {
			t.Errorf("kept a control: %q", s)
		}
	}
	if d := r.checks["failed-units"].Detail; d != "1 failed\nmsg from the journal" {
		t.Errorf("detail %q", d)
	}
}
