package tui

import (
	"context"
	"errors"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

func init() { register(step.Push, "Push", newPushScreen) }

// pushScreen sends the system to the board: the target form, then the
// push itself (host key, preflight checklist, delta, copy progress,
// activation), all from deploy.Push's events.
type pushScreen struct {
	sess *Session
	st   *Styles
	form *pushForm
	spin spinner.Model
	w, h int

	task     *Task
	run      *pushRun // the attempt on screen; nil while on the form
	retry    bool     // the next start is a new attempt in the run record
	opts     deploy.Options
	offline  *offlineRun    // an offline bundle being written (push_offline.go)
	auto     bool           // the bench's next board: start with the carried form
	waiting  string         // the board in flight at the same address this push waits for
	waitOpts deploy.Options // what starts when it has landed
	carried  bool           // this attempt was started so: a success goes on by itself
	attempt  attempt        // the run record's attempt the push runs in
	starting bool           // a retry's new attempt is being recorded: keys wait
}

// pushStartMsg starts a push again once its new attempt is recorded.
type pushStartMsg struct{ o deploy.Options }

var (
	pushKey        = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "push"))
	pushEditKey    = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit target"))
	pushFieldKey   = key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "next field"))
	pushDoneEdit   = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "done editing"))
	pushTrustKey   = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "trust this key"))
	pushRefuseKey  = key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "refuse"))
	pushCancelKey  = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "cancel push"))
	pushRetryKey   = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "push again"))
	pushForgetKey  = key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "forget old key, trust new"))
	pushPushedKeys = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue"))
)

func newPushScreen(s *Session, st *Styles) Screen {
	host := s.Facts[step.FactIP]
	if host == "" {
		host = s.Facts[step.FactHostname]
	}
	if host == "" && s.Hardware.Sim {
		host = "192.168.55.1"
	}
	p := &pushScreen{sess: s, st: st, form: newPushForm(host, "./result"), spin: spinner.New(spinner.WithSpinner(spinner.Dot))}
	if c := s.carry; c != nil && c.answers.push != nil {
		p.form.fill(*c.answers.push)
		p.auto = host != ""
	}
	if host == "" {
		p.form.focusOn(fHost)
	} else {
		p.form.focusOn(-1)
	}
	return p
}

func (p *pushScreen) Init() tea.Cmd {
	if p.auto && p.run == nil {
		// The bench's next board: the form as for the board before, with
		// this board's own address.
		p.auto = false
		if o, err := p.form.options(); err == nil {
			p.carried = true
			return p.start(o)
		}
	}
	if p.form.editing() {
		return p.form.focusOn(p.form.focus)
	}
	return nil
}

func (p *pushScreen) SetSize(w, h int) {
	p.w, p.h = w, h
	p.form.setWidth(w)
}

func (p *pushScreen) CapturesKeys() bool { return p.run == nil && p.form.editing() }

func (p *pushScreen) Keys() []key.Binding {
	switch {
	case p.offline != nil:
		return p.offlineKeys()
	case p.offerOffline():
		return []key.Binding{pushKey, pushEditKey, pushOfflineKey}
	case p.run == nil && p.form.editing():
		return []key.Binding{pushKey, pushFieldKey, pushDoneEdit}
	case p.run == nil:
		return []key.Binding{pushKey, pushEditKey}
	case p.run.asking:
		return []key.Binding{pushTrustKey, pushRefuseKey}
	case p.run.running():
		return []key.Binding{pushCancelKey}
	case p.run.err == nil:
		return []key.Binding{pushPushedKeys, pushRetryKey, pushEditKey}
	case p.run.cause() == string(remote.CauseHostKeyChanged):
		return []key.Binding{pushForgetKey, pushRetryKey, pushEditKey}
	}
	return []key.Binding{pushRetryKey, pushEditKey}
}

// start runs deploy.Push with the form's options; a push after the first
// runs in a new attempt, recorded before it starts (its log is its own).
func (p *pushScreen) start(o deploy.Options) tea.Cmd {
	if p.retry {
		p.starting = true
		return p.attempt.retry(pushStartMsg{o})
	}
	p.retry = true
	return p.begin(o)
}

// begin starts the push in the attempt open now.
func (p *pushScreen) begin(o deploy.Options) tea.Cmd {
	p.starting = false
	if busy := p.sess.busyAt(o.Target.Host); busy != "" {
		// Two boards of a bench at one address: the host reaches one of
		// them. This one goes when the other has landed.
		p.waiting, p.waitOpts = busy, o
		return nil
	}
	p.waiting = ""
	p.attempt.begin(p.sess)
	var cmds []tea.Cmd
	o.KnownHosts = p.sess.knownHosts()
	o.ConsoleHostKey = p.sess.Facts[step.FactHostKey]
	p.sess.answers.push = carriedPush(o)
	// The Watch step's k installs the public key for this login.
	p.sess.SetFact(step.FactSSHUser, o.Target.User)
	p.sess.SetFact(step.FactSSHIdentity, o.Target.Identity)
	o.Retries = 2
	p.run = newPushRun(o)
	o.Prompt = p.run.prompt
	p.opts = o
	edge := p.sess.Hardware.Push
	log, _ := p.sess.Step().OpenLog("log") // without it the push goes on: Tee says so
	t, cmd := p.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		defer log.Close()
		o.Log = log
		return deploy.Push(ctx, edge, o, log.Tee(sink))
	})
	p.task = t
	return tea.Batch(append(cmds, cmd, p.spin.Tick)...)
}

func (p *pushScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	if ok, cmd := p.offlineUpdate(msg); ok {
		return p, cmd
	}
	switch msg := msg.(type) {
	case TaskEventMsg:
		if msg.Task != p.task {
			return p, nil
		}
		p.run.event(msg.Event)
		return p, p.task.Next()
	case TaskDoneMsg:
		if msg.Task != p.task {
			return p, nil
		}
		return p, p.finished(msg)
	case spinner.TickMsg:
		if p.offline != nil && !p.offline.done {
			var cmd tea.Cmd
			p.spin, cmd = p.spin.Update(msg)
			return p, cmd
		}
		if p.run == nil || !p.run.running() {
			return p, nil
		}
		var cmd tea.Cmd
		p.spin, cmd = p.spin.Update(msg)
		return p, cmd
	case tea.KeyPressMsg:
		return p, p.key(msg)
	case addrFreeMsg:
		if p.waiting != "" {
			return p, p.begin(p.waitOpts)
		}
	case pushStartMsg:
		return p, p.begin(msg.o)
	}
	return p, nil
}

// finished records a failed attempt at once (the screen stays to retry);
// a success waits for enter.
func (p *pushScreen) finished(msg TaskDoneMsg) tea.Cmd {
	p.run.done = true
	p.run.asking = false
	if res, ok := msg.Result.(*deploy.Result); ok && msg.Err == nil {
		p.run.result = res
		if res.Fingerprint != "" {
			p.sess.SetFact(step.FactHostKey, res.Fingerprint)
		}
		if p.carried {
			// As the person did for the board before: on to Verify.
			return p.attempt.done(DoneMsg{Outcome: runrec.Success, Summary: res.Text(), Details: res})
		}
		return nil
	}
	p.run.err = msg.Err
	if p.run.err == nil {
		p.run.err = errors.New("the push ended without a result")
	}
	return p.attempt.done(DoneMsg{Outcome: runrec.OutcomeOf(p.run.err), Summary: "push failed", Err: p.run.err})
}

func (p *pushScreen) key(k tea.KeyPressMsg) tea.Cmd {
	if p.offline != nil {
		return p.offlineKey(k)
	}
	if p.starting {
		return nil
	}
	if p.offerOffline() && key.Matches(k, pushOfflineKey) {
		return p.startOffline()
	}
	if p.run == nil {
		return p.formKey(k)
	}
	r := p.run
	switch {
	case r.answer(k):
	case r.running() && key.Matches(k, pushCancelKey):
		p.task.Cancel()
	case r.running():
	case r.err == nil && key.Matches(k, pushPushedKeys):
		return p.attempt.done(DoneMsg{Outcome: runrec.Success, Summary: r.result.Text(), Details: r.result})
	case key.Matches(k, pushRetryKey):
		p.carried = false
		return p.start(p.opts)
	case r.cause() == string(remote.CauseHostKeyChanged) && key.Matches(k, pushForgetKey) && r.changed != "":
		o := p.opts
		o.ForgetHostKey, o.AcceptHostKey = true, r.changed
		return p.start(o)
	case key.Matches(k, pushEditKey):
		p.run = nil
		return p.form.focusOn(fHost)
	}
	return nil
}

func (p *pushScreen) formKey(k tea.KeyPressMsg) tea.Cmd {
	f := p.form
	switch {
	case k.String() == "enter":
		o, err := f.options()
		if err != nil {
			f.err = err.Error()
			return nil
		}
		f.err = ""
		f.focusOn(-1)
		return p.start(o)
	case !f.editing() && (key.Matches(k, pushEditKey) || k.String() == "tab"):
		return f.focusOn(fHost)
	case f.editing() && k.String() == "esc":
		f.focusOn(-1)
		return nil
	case f.editing():
		return f.update(k)
	}
	return nil
}

// carriedPush is what of a push's options the next board of a bench
// keeps: the login, the system and how it is activated. Never the host
// (each board's own), nor anything that vouches for a host key.
func carriedPush(o deploy.Options) *deploy.Options {
	c := deploy.Options{Closure: o.Closure, Flake: o.Flake, Mode: o.Mode, Reboot: o.Reboot}
	c.Target.Port, c.Target.User, c.Target.Identity = o.Target.Port, o.Target.User, o.Target.Identity
	return &c
}
