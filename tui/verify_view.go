package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// verifyRun is one verification as the screen shows it, built from events.
type verifyRun struct {
	target string
	hostKeyQuestion
	plan    []verify.Planned
	checks  map[string]verify.Check
	waiting map[string]verify.Waiting
	done    bool
	result  *verify.Result
	err     error
}

func newVerifyRun(o verify.Options) *verifyRun {
	return &verifyRun{target: o.Target.String(), hostKeyQuestion: newHostKeyQuestion(o.Trust.ConsoleHostKey != "" || o.Trust.AcceptHostKey != ""),
		checks: map[string]verify.Check{}, waiting: map[string]verify.Waiting{}}
}

func (r *verifyRun) cause() string {
	var se *step.Error
	if errors.As(r.err, &se) {
		return se.Cause
	}
	return ""
}

func (r *verifyRun) event(e step.Event) {
	switch e := e.(type) {
	case verify.Plan:
		r.plan = e.Checks
	case remote.HostKey:
		r.hostKey(e)
	case verify.Check:
		// A check's detail quotes the board (a unit's journal, a GPU's
		// name): never its escape sequences on this terminal.
		e.Detail, e.Next = safe.Text(e.Detail), safe.Text(e.Next)
		r.checks[e.ID] = e
		delete(r.waiting, e.ID)
	case verify.Waiting:
		e.What = safe.Text(e.What)
		r.waiting[e.ID] = e
	}
}

// verdictMark is a check's mark: never colour alone.
func verdictMark(st *Styles, status string) string {
	switch status {
	case verify.OK:
		return st.Good.Render("✓")
	case verify.Warn:
		return st.Warn.Render("!")
	case verify.NotEnabled:
		return st.Subtle.Render("–")
	}
	return st.Bad.Render("✗")
}

func (v *verifyScreen) View() string {
	if v.form != nil {
		return v.formView()
	}
	st, w := v.st, max(v.w, 20)
	r := v.run
	if r == nil {
		t := v.target()
		if t.Host == "" {
			return st.Title.Render("Verify the board") + "\n\n" + wrapIndent("No board address yet: the Push step (esc) or the Watch step learns it. "+
				"From a script: jetup verify --host ADDRESS.", w, "") + "\n"
		}
		return st.Title.Render("Verify the board") + "\n\n" + wrapIndent("enter checks "+t.String()+": the system it runs, its units, the GPU, CUDA, "+
			"containers and k3s. Nothing was pushed in this run, so the running system is compared with the last push to this board's key.", w, "") + "\n"
	}
	var lines []string
	add := func(s ...string) { lines = append(lines, s...) }
	add(st.Title.Render("Verify") + " " + truncate(r.target, w-7))
	if k := r.key; k != nil {
		add(truncate("Host key  "+k.Fingerprint, w), "          "+keyStatus(st, k))
	}
	add(r.questionLines(st, w)...)
	if len(r.plan) > 0 {
		add("")
	}
	titleW := 14
	for _, p := range r.plan {
		c, ok := r.checks[p.ID]
		if !ok {
			mark := " "
			if !r.done {
				mark = v.spin.View()
			}
			line := fmt.Sprintf("%s %-*s", mark, titleW, p.Title)
			if wt, ok := r.waiting[p.ID]; ok {
				line += " " + st.Subtle.Render(truncate(fmt.Sprintf("waiting %s of %s: %s", secsText(wt.Elapsed), secsText(wt.Limit), wt.What), w-titleW-3))
			}
			add(line)
			continue
		}
		detail := strings.SplitN(c.Detail, "\n", 2)[0]
		add(fmt.Sprintf("%s %-*s %s", verdictMark(st, c.Status), titleW, c.Title, truncate(detail, w-titleW-3)))
		if c.Status == verify.Fail || c.Status == verify.Warn {
			// A failing check's own lines (a unit's journal) and its next step.
			if rest := strings.Split(c.Detail, "\n"); len(rest) > 1 {
				for _, l := range rest[1:min(len(rest), 4)] {
					add(st.Subtle.Render("  " + truncate(l, w-2)))
				}
			}
			if c.Next != "" {
				add(subtleLines(st, wrapIndent("  next: "+c.Next, w, "        "))...)
			}
		}
	}
	add(v.outcome(w)...)
	return strings.Join(lines, "\n") + "\n"
}

// subtleLines styles each line on its own: a block would pad every line
// to the longest.
func subtleLines(st *Styles, text string) []string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = st.Subtle.Render(l)
	}
	return lines
}

func secsText(s float64) string { return (time.Duration(s) * time.Second).String() }

// outcome is the verdict at the bottom.
func (v *verifyScreen) outcome(w int) []string {
	r, st := v.run, v.st
	if !r.done {
		return nil
	}
	var out []string
	if r.err != nil {
		what, next := r.err.Error(), step.NextOf(r.err)
		if errors.Is(r.err, context.Canceled) {
			what, next = "verification stopped", "r runs every check again"
		}
		out = append(out, "", st.Bad.Render("✗ ")+truncate(what, w-2))
		if next != "" {
			out = append(out, subtleLines(st, wrapIndent("next: "+next, w, "  "))...)
		}
		return out
	}
	res := r.result
	head := fmt.Sprintf("%d ok, %d warn, %d failed, %d not enabled, in %.1fs", res.OK, res.Warned, res.Failed, res.NotEnabled, res.Seconds)
	switch res.ExitCode() {
	case 0:
		out = append(out, "", st.Good.Render("✓ ")+truncate("the board works: "+head, w-2))
	default:
		out = append(out, "", st.Bad.Render("✗ ")+truncate(head, w-2),
			st.Subtle.Render(truncate("fix what failed, then r verifies again; s skips to the summary", w)))
	}
	return out
}

// verifyVerdicts are the Summary's lines for a verify attempt's details:
// one per check that is not ok, or one line saying all passed.
func verifyVerdicts(st *Styles, details []byte, w int) []string {
	var res verify.Result
	if len(details) == 0 || jsonUnmarshal(details, &res) != nil || len(res.Checks) == 0 {
		return nil
	}
	var out []string
	for _, c := range res.Checks {
		if c.Status == verify.OK {
			continue
		}
		out = append(out, fmt.Sprintf("    %s %-14s %s", verdictMark(st, c.Status), c.Title, truncate(strings.SplitN(c.Detail, "\n", 2)[0], w-22)))
	}
	if len(out) == 0 {
		out = append(out, "    "+st.Good.Render("✓")+fmt.Sprintf(" all %d checks passed", len(res.Checks)))
	}
	return out
}

var jsonUnmarshal = json.Unmarshal

// Progress is the checks in one short line, for the row of a board in
// flight.
func (v *verifyScreen) Progress() string {
	r := v.run
	switch {
	case r == nil:
		return ""
	case r.done && r.err != nil:
		return "✗ " + r.err.Error()
	case r.done && r.result != nil:
		return r.result.Text()
	}
	return fmt.Sprintf("%d of %d checks", len(r.checks), len(r.plan))
}
