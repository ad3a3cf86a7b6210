package tui

import (
	"context"
	"errors"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

func init() { register(step.Verify, "Verify", newVerifyScreen) }

// verifyScreen proves the board works after the push: it starts the checks
// at once on the board the push reached (its address and login from the
// session's facts), shows each with a spinner until its verdict arrives,
// the failing ones with their next step, and r runs them all again.
type verifyScreen struct {
	sess *Session
	st   *Styles
	spin spinner.Model
	w, h int

	task     *Task
	run      *verifyRun // the attempt on screen
	opts     verify.Options
	started  bool // an attempt was begun (the next is a retry)
	retried  bool // the person asked again: the end waits for them
	extras   verifyExtras
	form     *verifyForm // the checks' options, while asked (o)
	attempt  attempt     // the run record's attempt the checks run in
	starting bool        // a retry's new attempt is being recorded: keys wait
}

// verifyStartMsg starts the checks again once their new attempt is
// recorded.
type verifyStartMsg struct{ o verify.Options }

var (
	verifyRetryKey    = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "verify again"))
	verifyCancelKey   = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop"))
	verifyContinueKey = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue"))
	verifyStartKey    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "verify"))
	verifyForgetKey   = key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "forget old key, trust new"))
)

func newVerifyScreen(s *Session, st *Styles) Screen {
	return &verifyScreen{sess: s, st: st, spin: spinner.New(spinner.WithSpinner(spinner.Dot))}
}

// target is the board the push reached, as the session's facts name it.
func (v *verifyScreen) target() remote.Target {
	host := v.sess.Facts[step.FactIP]
	if host == "" {
		host = v.sess.Facts[step.FactHostname]
	}
	if host == "" && v.sess.Hardware.Sim {
		host = "192.168.55.1"
	}
	return remote.Target{Host: host, User: v.sess.Facts[step.FactSSHUser], Identity: v.sess.Facts[step.FactSSHIdentity]}
}

// options are the checks' options for the profile and the board.
func (v *verifyScreen) options() verify.Options {
	kh := v.sess.knownHosts()
	o := verify.Options{Target: v.target(), StateDir: v.sess.StateDir,
		Trust: remote.Trust{KnownHosts: kh, ConsoleHostKey: v.sess.Facts[step.FactHostKey]}}
	if p := v.sess.Profile; p != nil {
		jetson := p.Family == profiles.Jetson
		o.Jetson = &jetson
		if vf := p.Verify; vf != nil {
			o.GPU = []verify.GPUSet{{SoC: vf.SoC, Family: vf.GPU, Driver: vf.GPUDriver, Devices: vf.GPUDevices}}
			o.ProfileCUDASample = vf.CUDASample
		}
	}
	v.extras.apply(&o)
	return o
}

// Init starts the checks at once when this run pushed to the board: the
// person came here from Push. Otherwise (Push skipped) it waits for enter,
// so a skip goes past a board nobody asked to check.
func (v *verifyScreen) Init() tea.Cmd {
	if v.run != nil || v.target().Host == "" || !v.pushed() {
		return nil // back on a screen that has verified: keep what it found
	}
	return v.start(v.options())
}

// pushed reports whether a push succeeded in this run.
func (v *verifyScreen) pushed() bool {
	if v.sess.Run == nil {
		return false
	}
	for _, s := range v.sess.Run.Snapshot().Steps {
		if s.Step == step.Push && s.Outcome == runrec.Success {
			return true
		}
	}
	return false
}

func (v *verifyScreen) SetSize(w, h int)   { v.w, v.h = w, h }
func (v *verifyScreen) CapturesKeys() bool { return v.form != nil }

func (v *verifyScreen) Keys() []key.Binding {
	switch r := v.run; {
	case v.form != nil:
		return verifyFormKeys
	case r == nil && v.target().Host != "":
		return []key.Binding{verifyStartKey, verifyOptionsKey}
	case r == nil:
		return nil
	case r.asking:
		return []key.Binding{pushTrustKey, pushRefuseKey}
	case !r.done:
		return []key.Binding{verifyCancelKey}
	case r.cause() == "host-key-changed" && r.changed != "":
		return []key.Binding{verifyForgetKey, verifyRetryKey}
	case r.result != nil && r.err == nil && r.result.ExitCode() == 0:
		return []key.Binding{verifyContinueKey, verifyRetryKey, verifyOptionsKey}
	}
	return []key.Binding{verifyRetryKey, verifyOptionsKey}
}

// start runs verify.Run with o; an attempt after the first is recorded as
// a retry, before it starts (its log is its own).
func (v *verifyScreen) start(o verify.Options) tea.Cmd {
	if v.started {
		v.starting = true
		return v.attempt.retry(verifyStartMsg{o})
	}
	v.started = true
	return v.begin(o)
}

// begin starts the checks in the attempt open now.
func (v *verifyScreen) begin(o verify.Options) tea.Cmd {
	v.starting = false
	v.attempt.begin(v.sess)
	v.run = newVerifyRun(o)
	o.Trust.Prompt = v.run.prompt
	v.opts = o
	edge := v.sess.Hardware.Verify
	log, _ := v.sess.Step().OpenLog("log") // without it the checks go on: Tee says so
	t, cmd := v.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		defer log.Close()
		o.Log = log // serialised with the event lines
		return verify.Run(ctx, edge, o, log.Tee(sink))
	})
	v.task = t
	return tea.Batch(cmd, v.spin.Tick)
}

func (v *verifyScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	if v.form != nil {
		return v, v.formUpdate(msg)
	}
	switch msg := msg.(type) {
	case TaskEventMsg:
		if msg.Task != v.task {
			return v, nil
		}
		v.run.event(msg.Event)
		return v, v.task.Next()
	case TaskDoneMsg:
		if msg.Task != v.task {
			return v, nil
		}
		return v, v.finished(msg)
	case spinner.TickMsg:
		if v.run == nil || v.run.done {
			return v, nil
		}
		var cmd tea.Cmd
		v.spin, cmd = v.spin.Update(msg)
		return v, cmd
	case tea.KeyPressMsg:
		return v, v.key(msg)
	case verifyStartMsg:
		return v, v.begin(msg.o)
	}
	return v, nil
}

// finished records a failed run at once (the screen stays for r); a run
// with nothing failed waits for enter.
func (v *verifyScreen) finished(msg TaskDoneMsg) tea.Cmd {
	r := v.run
	r.done, r.asking = true, false
	if res, ok := msg.Result.(*verify.Result); ok && res != nil {
		r.result = res
	}
	r.err = msg.Err
	if r.err == nil && r.result == nil {
		r.err = errors.New("verify ended without a result")
	}
	if r.err == nil && r.result.ExitCode() == 0 {
		if r.result.Hostname != "" {
			v.sess.SetFact(step.FactHostname, r.result.Hostname)
		}
		if c := v.sess.carry; c != nil && c.answers.verified && !v.retried {
			// As the person did for the board before: on to the summary.
			res := r.result
			v.sess.answers.verified = true
			return v.attempt.done(DoneMsg{Outcome: runrec.Success, Summary: res.Text(), Details: res})
		}
		return nil
	}
	outcome, summary := runrec.OutcomeOf(r.err), "verify failed"
	if r.err == nil {
		outcome, summary = runrec.Failed, r.result.Text()
		if r.result.ExitCode() == step.ExitRefused {
			outcome = runrec.Refused
		}
	}
	return v.attempt.done(DoneMsg{Outcome: outcome, Summary: summary, Err: r.err, Details: detailsOf(r.result)})
}

// detailsOf keeps a nil result out of run.json.
func detailsOf(res *verify.Result) any {
	if res == nil {
		return nil
	}
	return res
}

func (v *verifyScreen) key(k tea.KeyPressMsg) tea.Cmd {
	r := v.run
	if v.starting {
		return nil
	}
	if (r == nil || r.done) && key.Matches(k, verifyOptionsKey) && v.target().Host != "" {
		return v.openForm()
	}
	if r == nil {
		if key.Matches(k, verifyStartKey) && v.target().Host != "" {
			return v.start(v.options())
		}
		return nil
	}
	switch {
	case r.answer(k):
	case !r.done && key.Matches(k, verifyCancelKey):
		v.task.Cancel()
	case !r.done:
	case key.Matches(k, verifyRetryKey):
		v.retried = true
		return v.start(v.options())
	case r.cause() == "host-key-changed" && r.changed != "" && key.Matches(k, verifyForgetKey):
		o := v.options()
		o.Trust.ForgetHostKey, o.Trust.AcceptHostKey = true, r.changed
		return v.start(o)
	case r.err == nil && r.result != nil && r.result.ExitCode() == 0 && key.Matches(k, verifyContinueKey):
		v.sess.answers.verified = true
		return v.attempt.done(DoneMsg{Outcome: runrec.Success, Summary: r.result.Text(), Details: r.result})
	}
	return nil
}
