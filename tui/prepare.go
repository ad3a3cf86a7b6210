package tui

import (
	"context"
	"fmt"
	"os"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// prepareView is the Profile step's "prepare for offline use" (issue 20):
// jetup prepare for the highlighted board, one line per artifact with its
// progress. It has a run record of its own (kind prepare), as the
// headless command has: the board's bring-up has not started.
type prepareView struct {
	sess    *Session
	st      *Styles
	profile *profiles.Profile
	task    *Task
	spin    spinner.Model

	order    []kit.ID
	rows     map[kit.ID]string
	done     map[kit.ID]bool
	title    string // the plan, said once
	stage    string // the latest step of the whole kit
	estimate string
	result   *kit.Prepared
	err      error
}

var (
	prepareKey       = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "prepare for offline use"))
	cancelPrepareKey = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "stop preparing"))
	backToListKey    = key.NewBinding(key.WithKeys("enter", "esc"), key.WithHelp("enter", "back to the boards"))
)

// prepareDoneMsg says the person is done looking at a prepare.
type prepareDoneMsg struct{}

func newPrepareView(sess *Session, st *Styles, p *profiles.Profile) *prepareView {
	return &prepareView{sess: sess, st: st, profile: p, spin: spinner.New(spinner.WithSpinner(spinner.Dot)),
		rows: map[kit.ID]string{}, done: map[kit.ID]bool{}}
}

func (v *prepareView) start(opt Options) tea.Cmd {
	sess, p := v.sess, v.profile
	t, cmd := sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		return preparekit(ctx, sess, opt, p, sink)
	})
	v.task = t
	return tea.Batch(cmd, v.spin.Tick)
}

// preparekit runs kit.Prepare inside a run record of its own, its log
// keeping nix's output and every event.
func preparekit(ctx context.Context, sess *Session, opt Options, p *profiles.Profile, sink step.Sink) (*kit.Prepared, error) {
	run, err := runrec.Create(sess.StateDir, runrec.Options{Kind: string(step.Prepare), Profile: p.Name, Version: opt.Version,
		Host: opt.Host, Command: os.Args, Sim: opt.Sim})
	if err != nil {
		return nil, step.Refuse("state-dir", "pass --state-dir with a writable directory", "%v", err)
	}
	rs := run.Begin(step.Prepare)
	log, err := rs.OpenLog("log")
	if err != nil {
		_ = rs.Finish(runrec.Failed, "", err)
		_ = run.Close(runrec.Failed)
		return nil, err
	}
	res, err := kit.Prepare(ctx, kit.Options{State: sess.StateDir, Profile: p, Nix: sess.Hardware.Nix, Log: log, Jetup: opt.Version},
		step.Tee(log.Printer(), sink))
	_ = log.Close()
	outcome, summary := runrec.OutcomeOf(err), ""
	if res != nil {
		_ = rs.SetDetails(res.Manifest)
		summary = res.Text()
	}
	_ = rs.Finish(outcome, summary, err)
	_ = run.Close(outcome)
	return res, err
}

func (v *prepareView) running() bool { return v.result == nil && v.err == nil }

func (v *prepareView) Keys() []key.Binding {
	if v.running() {
		return []key.Binding{cancelPrepareKey}
	}
	return []key.Binding{backToListKey}
}

func (v *prepareView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case spinner.TickMsg:
		if !v.running() {
			return nil
		}
		var cmd tea.Cmd
		v.spin, cmd = v.spin.Update(msg)
		return cmd
	case TaskEventMsg:
		if msg.Task != v.task {
			return nil
		}
		v.event(msg.Event)
		return v.task.Next()
	case TaskDoneMsg:
		if msg.Task != v.task {
			return nil
		}
		v.err = msg.Err
		if res, ok := msg.Result.(*kit.Prepared); ok && res != nil && msg.Err == nil {
			v.result = res
			if k := v.sess.Kits; k != nil && k.Prepared != nil {
				k.Prepared()
			}
		} else if v.err == nil {
			v.err = fmt.Errorf("the prepare ended without a kit")
		}
		return nil
	case tea.KeyPressMsg:
		switch {
		case v.running() && key.Matches(msg, cancelPrepareKey):
			v.task.Cancel()
			v.stage = "stopping: the kit as it was before stays whole"
		case !v.running() && key.Matches(msg, backToListKey):
			return func() tea.Msg { return prepareDoneMsg{} }
		}
	}
	return nil
}

// event keeps the latest line of each artifact.
func (v *prepareView) event(e step.Event) {
	switch ev := e.(type) {
	case kit.Plan:
		v.title = ev.Text()
		v.order = nil
		for _, a := range ev.Artifacts {
			v.order = append(v.order, a.ID)
			v.rows[a.ID] = "waiting"
		}
	case kit.Stage:
		if ev.Artifact != "" && !v.done[ev.Artifact] {
			v.rows[ev.Artifact] = ev.Message
		} else if ev.Artifact == "" {
			v.stage = ev.Message
		}
	case kit.Estimate:
		v.estimate = ev.Text()
	case kit.BuildProgress:
		if ev.Done {
			v.done[ev.Artifact] = true
		}
		v.rows[ev.Artifact] = ev.Text()
	case kit.Pinned:
		v.done[ev.Artifact] = true
		v.rows[ev.Artifact] = fmt.Sprintf("pinned, %s with its closure", kit.Bytes(ev.ClosureSize))
	case step.Warning:
		v.stage = "warning: " + ev.Warning
	}
}

func (v *prepareView) View(w int) string {
	var b strings.Builder
	b.WriteString(v.st.Bold.Render("Prepare "+v.profile.Name+" for offline use") + "\n\n")
	if v.title != "" {
		b.WriteString(wrapIndent(v.title, w, "") + "\n")
	}
	if v.estimate != "" {
		b.WriteString(v.st.Subtle.Render(wrapIndent(v.estimate, w, "")) + "\n")
	}
	b.WriteString("\n")
	for _, id := range v.order {
		mark := v.st.Subtle.Render("·")
		switch {
		case v.done[id]:
			mark = v.st.Good.Render("✓")
		case v.running() && v.rows[id] != "waiting":
			mark = v.spin.View()
		}
		b.WriteString(mark + " " + truncate(fmt.Sprintf("%-13s %s", id.Title(), v.rows[id]), w-2) + "\n")
	}
	if v.stage != "" && v.running() {
		b.WriteString("\n" + v.st.Subtle.Render(truncate(v.stage, w)) + "\n")
	}
	switch {
	case v.result != nil:
		b.WriteString("\n" + v.st.Good.Render(wrapIndent(v.result.Text(), w, "")) + "\n")
		b.WriteString(wrapIndent("With no network (--offline, or a host with no route out), this board's steps take their builds from it.", w, "") + "\n")
	case v.err != nil:
		b.WriteString("\n" + v.st.Bad.Render(wrapIndent(v.err.Error(), w, "")) + "\n")
		if next := step.NextOf(v.err); next != "" {
			b.WriteString(wrapIndent("Next: "+next, w, "") + "\n")
		}
		b.WriteString(wrapIndent("Nothing prepared before is lost. The log is in the run record (jetup runs).", w, "") + "\n")
	}
	return b.String()
}
