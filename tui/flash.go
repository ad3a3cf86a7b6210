package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

func init() { register(step.Flash, "Flash", newFlashScreen) }

// flashScreen runs the flash step: sudo first when needed (the terminal is
// handed to `sudo -v`), then the build and the script with a stage
// checklist, the device's Step N/M bar, the elapsed time and the last lines
// of output; at the end an outcome card with the next step. Retry goes
// back to recovery detection: a board must re-enter recovery mode before
// every attempt.
type flashScreen struct {
	sess *Session
	st   *Styles
	w, h int

	phase    flashPhase
	task     *Task
	started  time.Time
	ended    time.Time
	stage    flash.Stage
	stageTxt map[flash.Stage]string // the last line seen in each stage
	build    *flash.BuildEvent
	step     *flash.StepEvent
	notes    []string
	lines    []string // the last output lines
	result   *flash.Result
	err      error
	stopping bool
	attempt  *runrec.Step // the run record's attempt this flash runs in
	endMsg   *DoneMsg     // how a failed attempt ended, for a retry to repeat

	spin spinner.Model
	bar  progress.Model
}

type flashPhase int

const (
	flashIdle flashPhase = iota
	flashSudo            // checking or asking for sudo
	flashRunning
	flashDone
)

const keepLines = 200

var (
	cancelKey = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel flash"))
	retryKey  = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry from recovery"))
	onwardKey = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue"))
)

// sudoCheckedMsg: whether sudo works without a password now.
type sudoCheckedMsg struct{ cached bool }

// sudoAskedMsg: `sudo -v` on the terminal has returned.
type sudoAskedMsg struct{ err error }

// flashTickMsg redraws the elapsed time.
type flashTickMsg struct{}

// flashRestartMsg starts the flash again on this screen.
type flashRestartMsg struct{}

// flashOnwardMsg moves on after a success, unless the person already did.
type flashOnwardMsg struct{ task *Task }

func newFlashScreen(s *Session, st *Styles) Screen {
	return &flashScreen{sess: s, st: st, spin: spinner.New(spinner.WithSpinner(spinner.Dot)),
		bar: progress.New(progress.WithoutPercentage(), progress.WithFillCharacters('█', '░'))}
}

// Init starts a flash when the screen is new or was reset for a retry;
// coming back to a finished flash shows its card again.
func (f *flashScreen) Init() tea.Cmd {
	if f.phase != flashIdle {
		return nil
	}
	return f.begin()
}

// begin checks sudo (when the script needs root and jetup is not root),
// then starts the flash.
func (f *flashScreen) begin() tea.Cmd {
	f.reset()
	edge := f.sess.Hardware.Flash
	if edge == nil || !edge.NeedsRoot() || !flash.NeedsSudo() {
		return f.start()
	}
	f.phase = flashSudo
	ctx, runner := f.sess.ctx, f.sess.Hardware.Runner
	return tea.Batch(f.spin.Tick, func() tea.Msg { return sudoCheckedMsg{cached: flash.SudoCached(ctx, runner)} })
}

func (f *flashScreen) reset() {
	*f = flashScreen{sess: f.sess, st: f.st, w: f.w, h: f.h, spin: f.spin, bar: f.bar, stageTxt: map[flash.Stage]string{}}
}

// start runs the flash step as a task.
func (f *flashScreen) start() tea.Cmd {
	f.phase, f.started = flashRunning, time.Now()
	o, err := f.options()
	if err != nil {
		f.finish(nil, err)
		return f.done()
	}
	t, cmd := f.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		defer closeAll(o.Log, o.BuildLog)
		res, err := flash.Flash(ctx, o, sink)
		return res, err
	})
	f.task, f.attempt, f.endMsg = t, f.sess.Step(), nil
	return tea.Batch(cmd, tick())
}

// options for the flash: the profile's script, the board the detect step
// found, logs in the run record.
func (f *flashScreen) options() (flash.Options, error) {
	helper, err := flash.SelfHelper()
	if err != nil {
		return flash.Options{}, err
	}
	b := f.sess.Hardware
	o := flash.Options{Profile: f.sess.Profile, USBInstance: f.sess.Facts[step.FactUSBInstance], Edge: b.Flash,
		Lock:   flash.LockFile(f.sess.StateDir),
		Runner: b.Runner, Nix: b.Nix, Helper: helper}
	if !b.Sim {
		// A real board: one flash on this host, whoever runs it.
		o.HostLock = flash.HostLockName
	}
	if b.USB != nil {
		// The Recover step has seen the board: check it is still there.
		o.Finder = flash.USBFinder(b.USB, detect.Options{Profile: f.sess.Profile})
	}
	if p := f.sess.Profile; p != nil && p.Flash != nil {
		o.OutLink = filepath.Join(f.sess.StateDir, "gcroots", p.Flash.Attribute)
	}
	if rs := f.sess.Step(); rs != nil {
		log, err := rs.OpenLog("log")
		if err != nil {
			return o, err
		}
		o.Log, o.BuildLog = log, rs.LazyLog("build.log")
	}
	return o, nil
}

func closeAll(ws ...any) {
	for _, w := range ws {
		if c, ok := w.(interface{ Close() error }); ok {
			_ = c.Close()
		}
	}
}

func tick() tea.Cmd { return tea.Tick(time.Second, func(time.Time) tea.Msg { return flashTickMsg{} }) }

// finish records the end of the attempt on the screen.
func (f *flashScreen) finish(res *flash.Result, err error) {
	f.phase, f.ended, f.result, f.err, f.stopping = flashDone, time.Now(), res, err, false
	if res != nil && res.Stage != "" {
		f.stage = res.Stage
	}
}

// done tells the root how the attempt ended. A success moves on after a
// moment (the board is booting, no time to lose), a failure stays here
// with the card.
func (f *flashScreen) done() tea.Cmd {
	outcome, summary := runrec.Failed, "flash failed"
	var details any
	if r := f.result; r != nil {
		details = r
		switch {
		case r.Outcome == flash.Success:
			outcome, summary = runrec.Success, fmt.Sprintf("flashed in %s", f.elapsed())
		case r.Ended == flash.EndCancelled:
			outcome, summary = runrec.Cancelled, fmt.Sprintf("cancelled at %q", r.Stage.Title())
		case r.Ended == "":
			summary = r.What
		default:
			summary = fmt.Sprintf("failed at %q: %s (%s)", r.Stage.Title(), r.What, r.Cause)
		}
	} else if f.err != nil {
		summary = f.err.Error()
	}
	if outcome == runrec.Success {
		t := f.task
		return tea.Tick(2*time.Second, func(time.Time) tea.Msg { return flashOnwardMsg{task: t} })
	}
	d := DoneMsg{Outcome: outcome, Summary: summary, Err: f.err, Details: details, Attempt: f.attempt}
	f.endMsg = &d
	return func() tea.Msg { return d }
}

func (f *flashScreen) onward() tea.Cmd {
	d := DoneMsg{Outcome: runrec.Success, Summary: fmt.Sprintf("flashed in %s", f.elapsed()), Details: f.result, Attempt: f.attempt}
	f.task = nil // a second enter or the timer must not send it again
	return func() tea.Msg { return d }
}

func (f *flashScreen) elapsed() time.Duration {
	if f.started.IsZero() {
		return 0
	}
	end := f.ended
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(f.started).Round(time.Second)
}

func (f *flashScreen) SetSize(w, h int) {
	f.w, f.h = w, h
	f.bar.SetWidth(max(w-26, 10))
}

func (f *flashScreen) CapturesKeys() bool { return false }

func (f *flashScreen) Keys() []key.Binding {
	switch {
	case f.phase == flashRunning:
		return []key.Binding{cancelKey}
	case f.phase == flashDone && f.result != nil && f.result.Outcome == flash.Success:
		return []key.Binding{onwardKey}
	case f.phase == flashDone:
		return []key.Binding{retryKey}
	}
	return nil
}

func (f *flashScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case sudoCheckedMsg:
		if msg.cached {
			return f, f.start()
		}
		return f, tea.ExecProcess(flash.SudoPrompt(), func(err error) tea.Msg { return sudoAskedMsg{err: err} })
	case sudoAskedMsg:
		if msg.err != nil {
			f.finish(nil, &step.Error{Cause: string(flash.CauseNotRoot), What: "sudo did not accept: the flash needs root",
				Next: flash.CauseNotRoot.Hint(), Err: msg.err})
			return f, f.done()
		}
		return f, f.start()
	case TaskEventMsg:
		if msg.Task != f.task {
			return f, nil
		}
		f.event(msg.Event)
		return f, f.task.Next()
	case TaskDoneMsg:
		if msg.Task != f.task {
			return f, nil
		}
		var res *flash.Result
		if r, ok := msg.Result.(flash.Result); ok {
			res = &r
		}
		f.finish(res, msg.Err)
		return f, f.done()
	case flashRestartMsg:
		return f, f.begin()
	case flashOnwardMsg:
		if msg.task == f.task && f.task != nil {
			return f, f.onward()
		}
	case flashTickMsg:
		if f.phase == flashRunning {
			return f, tick()
		}
	case spinner.TickMsg:
		if f.phase == flashSudo {
			var cmd tea.Cmd
			f.spin, cmd = f.spin.Update(msg)
			return f, cmd
		}
	case tea.KeyPressMsg:
		return f, f.key(msg)
	}
	return f, nil
}

func (f *flashScreen) key(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, cancelKey) && f.phase == flashRunning && f.task != nil:
		f.stopping = true
		f.task.Cancel()
	case key.Matches(k, onwardKey) && f.phase == flashDone && f.task != nil && f.result != nil && f.result.Outcome == flash.Success:
		return f.onward()
	case key.Matches(k, retryKey) && f.phase == flashDone && (f.result == nil || f.result.Outcome != flash.Success):
		return f.retry()
	}
	return nil
}

// retry goes back to recovery detection when the flow has it; the flash
// starts afresh when its screen is reached again.
func (f *flashScreen) retry() tea.Cmd {
	var notRoot *step.Error
	sudoFailed := f.result == nil && errors.As(f.err, &notRoot) && notRoot.Cause == string(flash.CauseNotRoot)
	f.phase = flashIdle
	// The attempt's end goes again ahead of the retry: the first may still
	// be on its way to the root, and a retry taken before it would record
	// the failed attempt as left (the root drops whichever comes second).
	var ended tea.Cmd
	if d := f.endMsg; d != nil {
		ended = func() tea.Msg { return *d }
	}
	if f.sess.Profile != nil && f.sess.Profile.HasStep(step.Detect) && !sudoFailed {
		return tea.Sequence(ended, GoTo(step.Detect, true))
	}
	// The root records a new attempt first, then the flash starts in it.
	return tea.Sequence(ended, Retry(), func() tea.Msg { return flashRestartMsg{} })
}

// event folds one flash event into the screen.
func (f *flashScreen) event(e step.Event) {
	switch ev := e.(type) {
	case flash.StageEvent:
		f.stage = ev.Stage
		f.stageTxt[ev.Stage] = safe.Text(ev.Line)
	case flash.StepEvent:
		f.step = &ev
	case flash.BuildEvent:
		f.build = &ev
	case flash.OutputEvent:
		line := safe.Text(ev.Line) // the script's output: never raw to the terminal
		f.lines = append(f.lines, line)
		if len(f.lines) > keepLines {
			f.lines = append(f.lines[:0], f.lines[len(f.lines)-keepLines:]...)
		}
		if f.stage != "" {
			f.stageTxt[f.stage] = line
		}
	case flash.NoticeEvent:
		f.notes = append(f.notes, safe.Text(ev.Text()))
	}
}
