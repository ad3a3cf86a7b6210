package tui

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// driver runs the wizard's model as Bubble Tea does, without a terminal or
// a renderer: every message goes through Update on the test's goroutine,
// every command runs in its own goroutine and what it returns comes back
// as the next message (batches and sequences as Bubble Tea runs them), and
// View is what the person sees, styles stripped. A test sends keys and
// messages, then waits for what the model shows or does next: each wait
// ends at the message that makes it true, and only a generous bound that
// names what was awaited fails it. Screen tests start on their own step.
type driver struct {
	t    testing.TB
	m    *Model
	msgs chan tea.Msg
	stop chan struct{}
	// quit is set when the model asked Bubble Tea to quit.
	quit bool
	// hold, when set, keeps the messages it matches from the model until
	// release: a message still on its way when the person presses a key.
	holdMu sync.Mutex
	hold   func(tea.Msg) bool
	held   []tea.Msg
}

// holdBack keeps back the messages match matches, from now until release.
func (d *driver) holdBack(match func(tea.Msg) bool) {
	d.holdMu.Lock()
	defer d.holdMu.Unlock()
	d.hold = match
}

// heldCount is how many messages are held back.
func (d *driver) heldCount() int {
	d.holdMu.Lock()
	defer d.holdMu.Unlock()
	return len(d.held)
}

// release stops holding messages back and delivers the held ones.
func (d *driver) release() {
	d.holdMu.Lock()
	held := d.held
	d.hold, d.held = nil, nil
	d.holdMu.Unlock()
	for _, msg := range held {
		d.send(msg)
	}
}

// drive starts the wizard with o as Bubble Tea would (the window's size,
// then Init) in a w x h window.
func drive(t testing.TB, w, h int, o Options) *driver {
	t.Helper()
	d := newDriver(t, o)
	d.start(w, h)
	return d
}

// driveStep opens the wizard on step id of o.Profile, as if the person had
// picked the profile and gone straight to that step: the run record is
// started, the host check is not run.
func driveStep(t testing.TB, w, h int, o Options, id step.ID) *driver {
	t.Helper()
	d := newDriver(t, o)
	d.openStep(w, h, id)
	return d
}

// start sizes the window and runs the model's Init.
func (d *driver) start(w, h int) {
	d.t.Helper()
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	d.run(d.m.Init())
}

// openStep sizes the window, starts the run for the profile the options
// name, and makes step id the active one.
func (d *driver) openStep(w, h int, id step.ID) {
	d.t.Helper()
	p, ok := d.m.opt.Profiles.Get(d.m.opt.Profile)
	if !ok {
		d.t.Fatalf("no profile %q", d.m.opt.Profile)
	}
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	d.m.startRun(p)
	i := d.m.index(id)
	if i < 0 {
		d.t.Fatalf("profile %s has no %s step", p.Name, id)
	}
	d.run(d.m.activate(i))
}

var (
	loadProfiles sync.Once
	profileSet   *profiles.Set
)

// testProfiles are the embedded profiles, loaded once.
func testProfiles(t testing.TB) *profiles.Set {
	t.Helper()
	loadProfiles.Do(func() {
		set, errs := profiles.Load(assets.Profiles(), "")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		profileSet = set
	})
	return profileSet
}

func newDriver(t testing.TB, o Options) *driver {
	t.Helper()
	if o.Profiles == nil {
		o.Profiles = testProfiles(t)
	}
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	if o.Hardware.Host == nil {
		o.Hardware = sim.Hardware()
	}
	d := &driver{t: t, m: New(o), msgs: make(chan tea.Msg, 64), stop: make(chan struct{})}
	// Ending the session cancels every task and waits for it, as quitting
	// the wizard does; commands still running give up their message.
	t.Cleanup(func() { close(d.stop); d.m.Close() })
	return d
}

// send gives msg to the model and starts the command it returns.
func (d *driver) send(msg tea.Msg) {
	d.t.Helper()
	if _, ok := msg.(tea.QuitMsg); ok {
		d.quit = true
		return
	}
	_, cmd := d.m.Update(msg)
	d.run(cmd)
}

// key presses keys by code (tea.KeyEnter, tea.KeyDown, 'y').
func (d *driver) key(codes ...rune) {
	d.t.Helper()
	for _, c := range codes {
		d.send(tea.KeyPressMsg{Code: c})
	}
}

// typ types text, one key press a character.
func (d *driver) typ(s string) {
	d.t.Helper()
	for _, c := range s {
		d.send(tea.KeyPressMsg{Code: c, Text: string(c)})
	}
}

// run starts cmd as Bubble Tea does: in its own goroutine.
func (d *driver) run(cmd tea.Cmd) {
	if cmd != nil {
		go d.exec(cmd)
	}
}

// exec runs cmd and delivers what it returns: a batch's commands at once,
// a sequence's one after another, any other message to the model.
func (d *driver) exec(cmd tea.Cmd) {
	msg := cmd()
	if msg == nil {
		return
	}
	if batch, ok := msg.(tea.BatchMsg); ok {
		var wg sync.WaitGroup
		for _, c := range batch {
			if c != nil {
				wg.Add(1)
				go func() { defer wg.Done(); d.exec(c) }()
			}
		}
		wg.Wait()
		return
	}
	if seq, ok := sequence(msg); ok {
		for _, c := range seq {
			if c != nil {
				d.exec(c)
			}
		}
		return
	}
	d.holdMu.Lock()
	if d.hold != nil && d.hold(msg) {
		d.held = append(d.held, msg)
		d.holdMu.Unlock()
		return
	}
	d.holdMu.Unlock()
	select {
	case d.msgs <- msg:
	case <-d.stop:
	}
}

// sequence unpacks tea.Sequence's message (its type is Bubble Tea's own).
func sequence(msg tea.Msg) ([]tea.Cmd, bool) {
	v := reflect.ValueOf(msg)
	if v.Kind() != reflect.Slice || v.Type().Elem() != reflect.TypeFor[tea.Cmd]() {
		return nil, false
	}
	cmds := make([]tea.Cmd, v.Len())
	for i := range cmds {
		cmds[i] = v.Index(i).Interface().(tea.Cmd)
	}
	return cmds, true
}

// waitBound is how long any one wait may take before the test fails: far
// more than a busy machine needs (the whole package takes about two
// minutes with the machine's two cores seven times oversubscribed), so
// only a real hang fails.
const waitBound = 2 * time.Minute

// until processes the model's messages until ok holds, failing the test
// after waitBound with what it waited for.
func (d *driver) until(what string, ok func() bool) {
	d.t.Helper()
	d.untilf(func() string { return what }, ok)
}

func (d *driver) untilf(what func() string, ok func() bool) {
	d.t.Helper()
	timeout := time.NewTimer(waitBound)
	defer timeout.Stop()
	// Like Bubble Tea's renderer, the driver looks at the model at most once
	// a frame, and spends at most a third of its time looking (a 200x60
	// frame takes tens of milliseconds under -race): a burst of events is
	// taken in whole between looks. It looks again only after a message
	// changed the model, as soon as the frame is over.
	dirty, next := true, time.Time{}
	frame := time.NewTimer(0)
	defer frame.Stop()
	for {
		if dirty && !time.Now().Before(next) {
			start := time.Now()
			if ok() {
				return
			}
			dirty, next = false, time.Now().Add(max(time.Second/60, 2*time.Since(start)))
		}
		var due <-chan time.Time
		if dirty {
			frame.Reset(time.Until(next))
			due = frame.C
		}
		select {
		case msg := <-d.msgs:
			d.send(msg)
			dirty = true
		case <-due:
		case <-timeout.C:
			d.t.Fatalf("waited %v for %s; the screen:\n%s", waitBound, what(), d.view())
		}
	}
}

// untilEach is until for a state that may last only between two messages
// (the write's graph, between its last write sample and the first of the
// read-back): ok is asked after every message, not once a frame, so a
// busy machine that delivers a burst of messages at once cannot skip it.
// For a cheap ok, or a short stream of messages.
func (d *driver) untilEach(what string, ok func() bool) {
	d.t.Helper()
	timeout := time.NewTimer(waitBound)
	defer timeout.Stop()
	for !ok() {
		select {
		case msg := <-d.msgs:
			d.send(msg)
		case <-timeout.C:
			d.t.Fatalf("waited %v for %s; the screen:\n%s", waitBound, what, d.view())
		}
	}
}

// waitView processes messages until the screen shows every one of want,
// and returns the screen.
func (d *driver) waitView(want ...string) string {
	d.t.Helper()
	var text, missing string
	d.untilf(func() string { return "the screen to show " + strconv.Quote(missing) }, func() bool {
		text, missing = d.view(), ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
				return false
			}
		}
		return true
	})
	return text
}

// view is the whole frame as the person sees it: styles and the board's
// escape sequences stripped, lines trimmed on the right.
func (d *driver) view() string {
	lines := strings.Split(ansi.Strip(d.m.View().Content), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// waitAttempt processes messages until the last recorded attempt of step
// id satisfies ok (the screen shows an ending before the root records it),
// and returns it.
func (d *driver) waitAttempt(id step.ID, what string, ok func(runrec.StepRecord) bool) runrec.StepRecord {
	d.t.Helper()
	var last runrec.StepRecord
	d.until("the "+string(id)+" attempt to be recorded "+what, func() bool {
		all := d.steps(id)
		if len(all) == 0 {
			return false
		}
		last = all[len(all)-1]
		return ok(last)
	})
	return last
}

// outcome is a waitAttempt condition: the attempt ended with o.
func outcome(o runrec.Outcome) func(runrec.StepRecord) bool {
	return func(s runrec.StepRecord) bool { return s.Outcome == o }
}

// steps are the run record's attempts of step id, in order.
func (d *driver) steps(id step.ID) []runrec.StepRecord {
	var out []runrec.StepRecord
	for _, s := range d.m.sess.Run.Snapshot().Steps {
		if s.Step == id {
			out = append(out, s)
		}
	}
	return out
}

// ui is what a screen test does with the wizard, whether a driver runs the
// model as a value or a real Bubble Tea program draws it into a virtual
// terminal: one test body serves both, so each screen's one walk through a
// real program asserts what its value tests assert.
type ui interface {
	waitView(want ...string) string
	key(codes ...rune)
	typ(s string)
	send(msg tea.Msg)
	model() *Model
}

func (d *driver) model() *Model { return d.m }

// program is the wizard in a real Bubble Tea program (teatest), its output
// in a virtual terminal.
type program struct {
	t   *testing.T
	tm  *teatest.TestModel
	scr *testkit.Screen
	m   *Model
}

// runProgram starts the wizard with o in a real program in a w x h
// terminal.
func runProgram(t *testing.T, w, h int, o Options) *program {
	t.Helper()
	tm, scr, m := startWizard(t, w, h, o)
	return &program{t: t, tm: tm, scr: scr, m: m}
}

func (p *program) waitView(want ...string) string {
	p.t.Helper()
	return p.scr.WaitFor(p.t, waitBound, want...)
}
func (p *program) key(codes ...rune) { press(p.tm, codes...) }
func (p *program) typ(s string)      { p.tm.Type(s) }
func (p *program) send(msg tea.Msg)  { p.tm.Send(msg) }
func (p *program) model() *Model     { return p.m }
