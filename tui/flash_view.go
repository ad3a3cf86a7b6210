package tui

import (
	"fmt"
	"strings"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/step"
)

// View: the title with the elapsed time, the stage checklist, the device's
// Step N/M bar, the outcome card once it ended, and as many of the last
// output lines as fit.
func (f *flashScreen) View() string {
	title := f.st.Title.Render("Flash the boot firmware")
	if !f.started.IsZero() {
		el := f.elapsed()
		clock := "⏱ " + el.String()
		if gap := f.w - len("Flash the boot firmware") - len([]rune(clock)); gap > 1 {
			title += strings.Repeat(" ", gap) + f.st.Subtle.Render(clock)
		}
	}
	// The layouts from the fullest to the most compact: the first that fits
	// the height is shown, the output tail takes the rest.
	var out string
	for _, l := range []struct {
		bar, compact bool
		evidence     int
	}{{true, false, 2}, {false, false, 2}, {false, false, 1}, {false, false, 0}, {false, true, 0}} {
		out = f.layout(title, l.bar, l.compact, l.evidence)
		if strings.Count(out, "\n")+1 <= f.h {
			break
		}
	}
	used := strings.Count(out, "\n") + 1
	if room := f.h - used - 1; room >= 2 && len(f.lines) > 0 {
		out += "\n\n" + f.tail(room)
	}
	return out
}

func (f *flashScreen) layout(title string, bar, compact bool, evidence int) string {
	rows := []string{title, ""}
	if f.phase == flashSudo {
		rows = append(rows, f.spin.View()+" checking sudo: the flash script runs as root", "")
	}
	if compact {
		rows = append(rows, f.compactChecklist())
	} else {
		rows = append(rows, f.checklist()...)
	}
	if b := f.stepBar(); bar && b != "" {
		rows = append(rows, "", b)
	}
	switch {
	case f.phase == flashDone:
		rows = append(rows, "", f.card(evidence))
	case f.stopping:
		rows = append(rows, "", f.st.Warn.Render("Stopping the flash and everything it started…"))
	case len(f.notes) > 0 && strings.HasPrefix(f.notes[len(f.notes)-1], "warning:"):
		rows = append(rows, "", f.st.Warn.Render(truncate(f.notes[len(f.notes)-1], f.w)))
	}
	return strings.Join(rows, "\n")
}

// compactChecklist is the checklist's marks on one line, for short
// windows.
func (f *flashScreen) compactChecklist() string {
	rows := f.checklist()
	marks := make([]string, len(rows))
	for i, r := range rows {
		marks[i], _, _ = strings.Cut(r, " ")
	}
	return strings.Join(marks, " ") + " " + truncate(f.stage.Title(), max(f.w-2*len(rows)-1, 5))
}

// checklist is one row per stage: ✓ passed, ▸ current, ✗ where it failed,
// – where it stopped, · not reached. Marks, not colours, carry the state.
func (f *flashScreen) checklist() []string {
	var rows []string
	if b := f.build; b != nil {
		mark := f.spinOrMark()
		if b.Done || f.stage != "" {
			mark = f.st.Good.Render("✓")
		}
		detail := strings.TrimPrefix(b.Text(), "build "+b.Ref)
		rows = append(rows, f.row(mark, "Build the flash script", strings.TrimPrefix(detail, ": ")))
	}
	cur := f.stage.Index()
	for _, s := range flash.Stages {
		i := s.Index()
		mark, detail := f.st.Subtle.Render("·"), ""
		switch {
		case i < cur:
			mark = f.st.Good.Render("✓")
		case i == cur && s == flash.StageSuccess:
			mark = f.st.Good.Render("✓")
		case i == cur && f.phase == flashRunning:
			mark, detail = f.spinOrMark(), f.stageTxt[s]
		case i == cur && f.result != nil && f.result.Outcome == flash.Failed:
			mark = f.st.Bad.Render("✗")
		case i == cur:
			mark = f.st.Warn.Render("–")
		}
		rows = append(rows, f.row(mark, s.Title(), detail))
	}
	return rows
}

func (f *flashScreen) spinOrMark() string {
	if f.phase == flashRunning {
		return f.st.Accent.Render("▸")
	}
	return f.st.Subtle.Render("·")
}

func (f *flashScreen) row(mark, title, detail string) string {
	line := fmt.Sprintf("%s %-24s", mark, title)
	if detail != "" && f.w > 34 {
		line += " " + f.st.Subtle.Render(truncate(detail, f.w-29))
	}
	return line
}

// stepBar is the device's Step N/M progress.
func (f *flashScreen) stepBar() string {
	s := f.step
	if s == nil {
		return ""
	}
	frac := s.Fraction()
	if f.result != nil && f.result.Outcome == flash.Success {
		frac = 1
	}
	label := fmt.Sprintf(" step %d/%d", s.Step, s.Steps)
	line := f.bar.ViewAs(frac) + label
	if room := f.w - len([]rune(label)) - f.bar.Width() - 2; room > 10 {
		line += "  " + f.st.Subtle.Render(truncate(s.Action, room))
	}
	return line
}

// card says how the flash ended and what to do next, with up to evidence
// lines of the log.
func (f *flashScreen) card(evidence int) string {
	width := max(f.w-4, 20)
	var b strings.Builder
	r := f.result
	switch {
	case r != nil && r.Outcome == flash.Success:
		b.WriteString(f.st.Good.Render("✓ Flashed") + fmt.Sprintf(" in %s.", f.elapsed()) + "\n")
		b.WriteString(wrapIndent(r.Hint, width, "") + "\n")
		b.WriteString(f.st.Subtle.Render("Moving on to the next step…"))
	case r != nil && r.Ended == flash.EndCancelled:
		b.WriteString(f.st.Warn.Render("– Cancelled") + truncate(fmt.Sprintf(" at %q.", r.Stage.Title()), width-11) + "\n")
		b.WriteString(wrapIndent(r.Hint, width, ""))
	case r != nil:
		head := "✗ Failed"
		if r.Outcome == flash.Incomplete {
			head = "✗ Stopped"
		}
		where := ""
		if r.Stage != "" {
			where = fmt.Sprintf(" at %q", r.Stage.Title())
		}
		b.WriteString(f.st.Bad.Render(head) + truncate(where, width-len([]rune(head))) + "\n")
		b.WriteString(truncate(string(r.Cause)+": "+r.What, width) + "\n")
		b.WriteString(wrapIndent("Next: "+r.Hint, width, ""))
		for i, e := range r.Evidence {
			if i == evidence {
				break
			}
			b.WriteString("\n" + f.st.Subtle.Render(truncate(fmt.Sprintf("line %d: %s", e.Line, e.Text), width)))
		}
	default:
		b.WriteString(f.st.Bad.Render("✗ The flash could not start") + "\n")
		if f.err != nil {
			b.WriteString(wrapIndent(f.err.Error(), width, ""))
		}
		if next := step.NextOf(f.err); next != "" {
			b.WriteString("\n" + wrapIndent("Next: "+next, width, ""))
		}
	}
	return f.st.Box.Width(f.w).Render(b.String())
}

// tail is the last n rows of output.
func (f *flashScreen) tail(n int) string {
	rows := []string{f.st.Subtle.Render("Output")}
	lines := f.lines
	if len(lines) > n-1 {
		lines = lines[len(lines)-(n-1):]
	}
	for _, l := range lines {
		rows = append(rows, f.st.Subtle.Render("│ ")+truncate(l, f.w-2))
	}
	return strings.Join(rows, "\n")
}
