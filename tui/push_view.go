package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// pushRun is one push attempt as the screen shows it, built from events.
type pushRun struct {
	target string
	system string
	phase  string
	hostKeyQuestion
	checks   []deploy.Check
	delta    *deploy.Delta
	build    *deploy.BuildProgress
	copy     *deploy.CopyProgress
	remote   []string
	warnings []string
	done     bool
	result   *deploy.Result
	err      error
}

func newPushRun(o deploy.Options) *pushRun {
	sys := o.Closure
	if sys == "" {
		sys = o.Flake
	}
	return &pushRun{target: o.Target.String(), system: sys, hostKeyQuestion: newHostKeyQuestion(o.ConsoleHostKey != "" || o.AcceptHostKey != "")}
}

func (r *pushRun) running() bool { return !r.done }

func (r *pushRun) cause() string {
	var se *step.Error
	if errors.As(r.err, &se) {
		return se.Cause
	}
	return ""
}

const remoteKeep = 200

func (r *pushRun) event(e step.Event) {
	switch e := e.(type) {
	case deploy.PhaseEvent:
		r.phase = e.What
	case remote.HostKey:
		r.hostKey(e)
	case deploy.Check:
		r.checks = append(r.checks, e)
	case deploy.Delta:
		r.delta = &e
	case deploy.BuildProgress:
		r.build = &e
	case deploy.CopyProgress:
		r.copy = &e
	case deploy.RemoteLine:
		r.remote = append(r.remote, safe.Text(e.Line)) // the board's output
		if len(r.remote) > remoteKeep {
			r.remote = r.remote[len(r.remote)-remoteKeep:]
		}
	case step.Warning:
		r.warnings = append(r.warnings, safe.Text(e.Text()))
	}
}

// storeName drops /nix/store/<hash>- from a path.
func storeName(p string) string {
	if rest, ok := strings.CutPrefix(p, "/nix/store/"); ok {
		if _, name, ok := strings.Cut(rest, "-"); ok {
			return name
		}
	}
	return p
}

func (p *pushScreen) View() string {
	if p.offline != nil {
		return p.offlineView()
	}
	if p.waiting != "" {
		return p.st.Title.Render("Push the system to the board") + "\n\n" +
			wrapIndent(fmt.Sprintf("%s waiting: %s of the bench is still being pushed and checked at %s, and the host reaches one board at an address. This push starts when it has landed.",
				p.spin.View(), p.waiting, p.waitOpts.Target.Host), p.w, "  ") + "\n"
	}
	if p.run == nil {
		v := p.st.Title.Render("Push the system to the board") + "\n\n" + p.form.view(p.st, p.w) +
			"\n" + p.st.Subtle.Render(wrapIndent("jetup pins the board's host key in its own known_hosts, checks the board before sending anything, then sends only what it lacks.", p.w, "")) + "\n"
		if p.offerOffline() {
			v += p.offlineHint()
		}
		return v
	}
	r, st, w := p.run, p.st, p.w
	var top []string
	add := func(s ...string) { top = append(top, s...) }
	title := st.Title.Render("Push") + " " + truncate(r.target+" · "+storeName(r.system), w-6)
	add(title)
	if r.running() {
		add(p.spin.View() + " " + truncate(r.phase, w-3))
	}
	if k := r.key; k != nil {
		add(fmt.Sprintf("Host key  %s", truncate(k.Fingerprint, w-10)))
		add("          " + keyStatus(st, k))
	}
	add(r.questionLines(st, w)...)
	for _, c := range r.checks {
		add(fmt.Sprintf("%s %-16s %s", checkMark(st, c.Status), truncate(c.Title, 16), truncate(c.Detail, w-19)))
	}
	if d := r.delta; d != nil {
		add(truncate(d.Text(), w))
	}
	if b := r.build; b != nil && r.copy == nil && r.delta == nil {
		add(truncate("Build     "+b.Text(), w))
	}
	if c := r.copy; c != nil {
		add(copyLines(c, w)...)
	}
	for _, wn := range r.warnings {
		add(st.Warn.Render("! ") + truncate(wn, w-2))
	}
	bottom := p.outcome(w)
	// The board's activation output takes the rows that are left.
	room := p.h - len(top) - len(bottom) - 1
	if n := len(r.remote); n > 0 && room > 1 {
		lines := r.remote
		if len(lines) > room-1 {
			lines = lines[len(lines)-(room-1):]
		}
		top = append(top, st.Bold.Render("Board output"))
		for _, l := range lines {
			top = append(top, st.Subtle.Render("  "+truncate(l, w-2)))
		}
	}
	return strings.Join(append(top, bottom...), "\n") + "\n"
}

// keyStatus is a host key's line under its fingerprint, the same on the
// Push and Verify screens.
func keyStatus(st *Styles, k *remote.HostKey) string {
	via := map[string]string{"console": "matches the board's console", "flag": "given with --accept-host-key", "person": "confirmed by you"}[k.Via]
	switch k.Status {
	case remote.KeyPinned:
		return st.Good.Render("✓") + " pinned " + k.Type
	case remote.KeyAccepted:
		return st.Good.Render("✓") + " pinned now: " + via
	case remote.KeyChanged:
		return st.Bad.Render("✗") + " CHANGED: jetup pinned " + k.Pinned
	case remote.KeyForgotten:
		return "old key forgotten"
	}
	return st.Warn.Render("?") + " new " + k.Type + ", not pinned yet"
}

func checkMark(st *Styles, status string) string {
	switch status {
	case deploy.CheckOK:
		return st.Good.Render("✓")
	case deploy.CheckWarn:
		return st.Warn.Render("!")
	}
	return st.Bad.Render("✗")
}

// copyLines are the progress bar and its figures.
func copyLines(c *deploy.CopyProgress, w int) []string {
	barW := min(max(w-32, 10), 50)
	fill := int(c.Fraction() * float64(barW))
	bar := "[" + strings.Repeat("█", fill) + strings.Repeat("░", barW-fill) + "]"
	head := fmt.Sprintf("Copy      %s %3.0f%%", bar, 100*c.Fraction())
	if c.ETASeconds > 0 && c.PathsDone < c.PathsTotal {
		head += "  " + (time.Duration(c.ETASeconds) * time.Second).String() + " left"
	}
	fig := fmt.Sprintf("          %d/%d paths · %s/%s", c.PathsDone, c.PathsTotal,
		strings.TrimSuffix(deploy.MiB(c.BytesDone), " MiB"), deploy.MiB(c.BytesTotal))
	if c.Rate > 0 {
		fig += " · " + deploy.MiB(int64(c.Rate)) + "/s"
	}
	out := []string{truncate(head, w), truncate(fig, w)}
	if c.Current != "" {
		out = append(out, truncate("          "+storeName(c.Current), w))
	}
	return out
}

// outcome is the verdict at the bottom: the result, or what failed and
// what to do.
func (p *pushScreen) outcome(w int) []string {
	r, st := p.run, p.st
	switch {
	case r.result != nil:
		lines := strings.Split(wrapIndent(r.result.Text(), w, "  "), "\n")
		lines[0] = st.Good.Render("✓") + lines[0][1:]
		return append([]string{""}, lines...)
	case r.err == nil:
		return nil
	}
	var se *step.Error
	what, next := r.err.Error(), ""
	switch {
	case errors.As(r.err, &se):
		next = se.Next
		if se.Cause == string(remote.CauseAuthRefused) {
			next += "; or, back on the Watch step (esc), press k at the board's shell prompt: it types your public key in there"
		}
	case errors.Is(r.err, context.Canceled):
		what, next = "push cancelled", "the paths already sent stay on the board: r pushes again and sends only the rest"
	}
	lines := strings.Split(what, "\n")
	if len(lines) > 6 {
		lines = append(lines[:1], lines[len(lines)-5:]...)
	}
	out := []string{"", st.Bad.Render("✗ ") + truncate(lines[0], w-2)}
	for _, l := range lines[1:] {
		out = append(out, "  "+truncate(l, w-2))
	}
	if next != "" {
		out = append(out, strings.Split(st.Subtle.Render(wrapIndent("next: "+next, w, "  ")), "\n")...)
	}
	return out
}

// Progress is the push in one short line, for its row while the board is
// in flight.
func (p *pushScreen) Progress() string {
	r := p.run
	switch {
	case p.waiting != "":
		return "waiting for " + p.waiting
	case r == nil:
		return ""
	case r.done && r.err != nil:
		return "✗ " + r.err.Error()
	case r.done:
		return "✓ pushed"
	case r.copy != nil && r.copy.BytesTotal > 0:
		return fmt.Sprintf("copy %d%% of %s", r.copy.BytesDone*100/r.copy.BytesTotal, mib(r.copy.BytesTotal))
	}
	return r.phase
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }
