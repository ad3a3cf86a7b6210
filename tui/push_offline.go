package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// The push screen's other way for a board with no address (no network,
// a thin link): o writes an offline bundle of what the board lacks, made
// against the manifest jetup keeps for it (keyed by the host key the
// console step saw), into the state dir's bundles/. The person carries
// the file; on the board `sh FILE --switch` does the rest.

var (
	pushOfflineKey = key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "write an offline bundle"))
	offlineDoneKey = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue"))
)

// offlineRun is one bundle being written, as the screen shows it.
type offlineRun struct {
	task   *Task
	phase  string
	result *bundle.Result
	err    error
	done   bool
}

// offerOffline: the form has no address, so a bundle is the way.
func (p *pushScreen) offerOffline() bool {
	return p.run == nil && p.offline == nil && !p.form.editing() && strings.TrimSpace(p.form.inputs[fHost].Value()) == ""
}

func (p *pushScreen) startOffline() tea.Cmd {
	sys := strings.TrimSpace(p.form.inputs[fSystem].Value())
	fp := p.sess.Facts[step.FactHostKey]
	o := bundle.Options{For: fp, KeyDir: filepath.Join(p.sess.StateDir, "keys"),
		Output: filepath.Join(p.sess.StateDir, "bundles", "bundle-"+time.Now().UTC().Format("20060102-150405")+".sh")}
	if strings.Contains(sys, "#") {
		o.Flake = sys
	} else {
		o.Closure = sys
	}
	r := &offlineRun{}
	p.offline = r
	if fp == "" {
		r.done, r.err = true, step.Refuse("unknown-board", "watch the board boot (the console step reads its host key), or make the bundle with jetup bundle --for",
			"no host key for this board yet: jetup makes a bundle against the board's manifest, kept by its host key")
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(o.Output), 0o700); err != nil {
		r.done, r.err = true, err
		return nil
	}
	hw := p.sess.Hardware
	m := bundle.MirrorIn(p.sess.StateDir)
	log, _ := p.sess.Step().OpenLog("bundle")
	t, cmd := p.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		defer log.Close()
		o.Log = log
		return bundle.Write(ctx, bundle.Edge{Nix: hw.Nix, Runner: hw.Runner}, m, o, log.Tee(sink))
	})
	r.task = t
	return tea.Batch(cmd, p.spin.Tick)
}

func (p *pushScreen) offlineUpdate(msg tea.Msg) (bool, tea.Cmd) {
	r := p.offline
	if r == nil || r.task == nil {
		return false, nil
	}
	switch msg := msg.(type) {
	case TaskEventMsg:
		if msg.Task != r.task {
			return false, nil
		}
		if ph, ok := msg.Event.(bundle.Phase); ok {
			r.phase = ph.What
		}
		return true, r.task.Next()
	case TaskDoneMsg:
		if msg.Task != r.task {
			return false, nil
		}
		r.done = true
		if res, ok := msg.Result.(*bundle.Result); ok && msg.Err == nil {
			r.result = res
			return true, nil
		}
		r.err = msg.Err
		return true, nil
	}
	return false, nil
}

func (p *pushScreen) offlineKey(k tea.KeyPressMsg) tea.Cmd {
	r := p.offline
	switch {
	case !r.done && key.Matches(k, pushCancelKey):
		r.task.Cancel()
	case r.done && r.result != nil && key.Matches(k, offlineDoneKey):
		return p.sess.doneNow(DoneMsg{Outcome: runrec.Success, Summary: "offline bundle " + r.result.File, Details: r.result})
	case r.done && key.Matches(k, pushEditKey):
		p.offline = nil
		return p.form.focusOn(fHost)
	}
	return nil
}

func (p *pushScreen) offlineKeys() []key.Binding {
	switch r := p.offline; {
	case !r.done:
		return []key.Binding{pushCancelKey}
	case r.result != nil:
		return []key.Binding{offlineDoneKey, pushEditKey}
	}
	return []key.Binding{pushEditKey}
}

func (p *pushScreen) offlineView() string {
	r, st, w := p.offline, p.st, p.w
	lines := []string{st.Title.Render("Offline bundle"), ""}
	switch {
	case !r.done:
		lines = append(lines, p.spin.View()+" "+truncate(r.phase, w-3))
	case r.result != nil:
		for _, l := range strings.Split(r.result.Text(), "\n") {
			lines = append(lines, wrapIndent(l, w, "  "))
		}
		lines = append(lines, "", st.Good.Render("✓ written: ")+truncate(r.result.File, w-12),
			wrapIndent("Carry it to the board; as root there: sh FILE --check, then sh FILE --switch. Its receipt comes home with jetup boards --receipt.", w, ""))
	default:
		lines = append(lines, st.Bad.Render("✗ ")+strings.TrimPrefix(wrapIndent(r.err.Error(), w, "  "), "  "))
		if next := step.NextOf(r.err); next != "" {
			lines = append(lines, wrapIndent("next: "+next, w, "  "))
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// offlineHint is the form's line for a board with no address.
func (p *pushScreen) offlineHint() string {
	return "\n" + p.st.Subtle.Render(wrapIndent(fmt.Sprintf("No address? %s writes an offline bundle of what the board lacks, to carry to it.", "o"), p.w, "")) + "\n"
}
