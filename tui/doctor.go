package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

func init() { register(step.Doctor, "Check host", newDoctorScreen) }

// doctorScreen checks the host and lists what to change.
type doctorScreen struct {
	sess     *Session
	st       *Styles
	task     *Task
	findings []doctor.Finding
	report   *doctor.Report
	err      error
	spin     spinner.Model
	vp       viewport.Model
	w, h     int
}

var (
	recheckKey = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "check again"))
	scrollKey  = key.NewBinding(key.WithKeys("up", "down", "pgup", "pgdown"), key.WithHelp("↑/↓", "scroll"))
)

func newDoctorScreen(s *Session, st *Styles) Screen {
	return &doctorScreen{sess: s, st: st, spin: spinner.New(spinner.WithSpinner(spinner.Dot)), vp: viewport.New()}
}

func (d *doctorScreen) start() tea.Cmd {
	d.findings, d.report, d.err = nil, nil, nil
	host := d.sess.Hardware.Host
	var o doctor.Options
	// Offline, the board's steps can only run from a kit: the check says
	// whether one holds what they build (it blocks flashing when none does).
	if k := d.sess.Kits; k != nil && k.Offline && d.sess.Profile != nil {
		o.More = append(o.More, fieldKitCheck(d.sess))
	}
	t, cmd := d.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		rep, err := doctor.Run(ctx, host, o, sink)
		return rep, err
	})
	d.task = t
	return tea.Batch(cmd, d.spin.Tick)
}

func (d *doctorScreen) Init() tea.Cmd { return d.start() }

// SetSize keeps the title and the verdict fixed and scrolls the findings.
func (d *doctorScreen) SetSize(w, h int) {
	d.w, d.h = w, h
	d.vp.SetWidth(w)
	d.vp.SetHeight(max(h-6, 3))
}

func (d *doctorScreen) CapturesKeys() bool { return false }
func (d *doctorScreen) Keys() []key.Binding {
	return []key.Binding{keys.Continue, recheckKey, scrollKey}
}
func (d *doctorScreen) running() bool { return d.report == nil && d.err == nil }
func (d *doctorScreen) summary() (string, bool) {
	if d.report == nil {
		return "", false
	}
	var warn, fail int
	for _, f := range d.report.Findings {
		switch f.Status {
		case doctor.Warn:
			warn++
		case doctor.Fail:
			fail++
		}
	}
	return fmt.Sprintf("%d checks: %d to fix, %d warnings", len(d.report.Findings), fail, warn), d.report.ReadyToFlash
}

func (d *doctorScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case TaskEventMsg:
		if msg.Task != d.task {
			return d, nil
		}
		if f, ok := msg.Event.(doctor.Finding); ok {
			d.findings = append(d.findings, f)
		}
		return d, d.task.Next()
	case TaskDoneMsg:
		if msg.Task != d.task {
			return d, nil
		}
		d.err = msg.Err
		if rep, ok := msg.Result.(doctor.Report); ok && msg.Err == nil {
			d.report = &rep
		}
		return d, nil
	case spinner.TickMsg:
		if !d.running() {
			return d, nil
		}
		var cmd tea.Cmd
		d.spin, cmd = d.spin.Update(msg)
		return d, cmd
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, scrollKey):
			var cmd tea.Cmd
			d.vp, cmd = d.vp.Update(msg)
			return d, cmd
		case key.Matches(msg, recheckKey) && !d.running():
			return d, d.start()
		case key.Matches(msg, keys.Continue) && !d.running():
			sum, ready := d.summary()
			if d.err != nil {
				return d, d.sess.doneNow(DoneMsg{Outcome: runrec.Failed, Summary: "host check failed", Err: d.err})
			}
			if !ready {
				sum += " (flashing is blocked on this host)"
			}
			return d, d.sess.doneNow(DoneMsg{Outcome: runrec.Success, Summary: sum, Details: d.report})
		}
	}
	return d, nil
}

func (d *doctorScreen) View() string {
	var lines strings.Builder
	for _, f := range d.findings {
		var mark string
		switch f.Status {
		case doctor.OK:
			mark = d.st.Good.Render("✓")
		case doctor.Warn:
			mark = d.st.Warn.Render("!")
		default:
			mark = d.st.Bad.Render("✗")
		}
		fmt.Fprintf(&lines, "%s %-22s %s\n", mark, truncate(f.Title, 22), truncate(f.Detail, d.w-26))
		if f.Status != doctor.OK && f.Next != "" {
			lines.WriteString(d.st.Subtle.Render(wrapIndent(f.Next, d.w, "    ")) + "\n")
		}
	}
	d.vp.SetContent(strings.TrimRight(lines.String(), "\n"))

	var b strings.Builder
	b.WriteString(d.st.Title.Render("Host check") + "\n\n" + d.vp.View() + "\n\n")
	switch {
	case d.err != nil:
		b.WriteString(d.st.Bad.Render("The check could not run: "+d.err.Error()) + "\n")
	case d.running():
		b.WriteString(d.spin.View() + " checking…\n")
	default:
		sum, ready := d.summary()
		if !d.vp.AtBottom() {
			sum += " · ↓ more"
		}
		b.WriteString(truncate(sum, d.w) + "\n")
		if !ready {
			b.WriteString(d.st.Bad.Render("Flashing cannot work here until the ✗ lines are fixed.") + "\n")
		}
		b.WriteString(d.st.Subtle.Render(truncate("Fixable: run `jetup doctor --fix` in another terminal, then r.", d.w)) + "\n")
	}
	return b.String()
}
