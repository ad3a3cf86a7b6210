package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/progress"

	"github.com/jetup/jetup/media"
)

// confirmBatchView is every marked disk and what it holds, then the image.
func (w *writeScreen) confirmBatchView() string {
	var b strings.Builder
	for _, l := range w.batch.Summary() {
		indent := ""
		if strings.HasPrefix(l, "  ") {
			indent = "  "
		}
		text := wrapIndent(l, w.w, indent)
		if strings.HasPrefix(l, "Erase ") {
			text = w.st.Bad.Render(text)
		}
		b.WriteString(text + "\n")
	}
	n := len(w.batch.Plans)
	b.WriteString("\n")
	if w.batch.NeedsTypedName() {
		b.WriteString(wrapIndent(fmt.Sprintf("Type %s and press enter to erase these %d disks (esc picks others):", w.st.Bold.Render(w.batch.Confirmation()), n), w.w, "") + "\n")
		b.WriteString(w.nameInput.View() + "\n")
	} else {
		b.WriteString(fmt.Sprintf("Press %s to erase these %d disks and write them at once, n to pick others.\n", w.st.Bold.Render("y"), n))
	}
	return b.String()
}

// bar is one target's bar with its percentage, as wide as the screen
// leaves after the text beside it.
func (w *writeScreen) bar(done, total int64, width int) string {
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	bar := progress.New(progress.WithWidth(max(width, 10)), progress.WithFillCharacters('█', '░'), progress.WithoutPercentage())
	return bar.ViewAs(frac) + fmt.Sprintf(" %3.0f%%", frac*100)
}

// targetsView is one bar per stick and the combined rate; at the end,
// each stick's verdict, the good and the bad named by port and serial.
func (w *writeScreen) targetsView() string {
	var b strings.Builder
	p0 := w.batch.Plans[0]
	title := "Writing"
	if w.state == wsDone {
		title = "Done"
	}
	head := fmt.Sprintf("%s %s → %d sticks, decoded once", title, p0.Image.Name, len(w.batch.Plans))
	if t := w.targets; t != nil && w.state == wsWriting {
		head += " · " + media.HumanRate(t.Rate) + " in all"
	}
	b.WriteString(truncate(head, w.w) + "\n\n")
	var states []media.TargetProgress
	if w.targets != nil {
		states = w.targets.Targets
	}
	for i, p := range w.batch.Plans {
		st := media.TargetProgress{Target: p.Disk.Name, Label: p.Disk.Label(), Phase: "waiting"}
		if i < len(states) {
			st = states[i]
		}
		if i < len(w.receipts) {
			st.Phase, st.Verdict = w.receipts[i].Result, w.receipts[i].Verdict()
		}
		b.WriteString(truncate(st.Label, w.w) + "\n")
		switch {
		case st.Phase == "failed":
			b.WriteString(w.st.Bad.Render(wrapIndent("✗ "+st.Verdict, w.w, "  ")) + "\n")
		case st.Finished():
			line := "✓ " + st.Verdict
			if i < len(w.receipts) && w.receipts[i].PowerOff != "" {
				line += " · " + w.receipts[i].PowerOff + ": pull it out now"
			}
			b.WriteString(w.st.Good.Render(truncate(line, w.w)) + "\n")
		default:
			info := fmt.Sprintf(" %-6s %s", st.Phase, media.HumanRate(st.Rate))
			b.WriteString(w.bar(st.Done, st.Total, w.w-len(info)-6) + truncate(info, w.w) + "\n")
		}
	}
	if w.state == wsWriting && w.stage != "" {
		b.WriteString("\n" + w.st.Subtle.Render(truncate(w.stage, w.w)) + "\n")
	}
	if w.receipts != nil {
		b.WriteString("\n")
		for i, l := range media.Results(w.receipts) {
			if i == 0 || len(l) < 8 {
				b.WriteString(truncate(l, w.w) + "\n")
				continue
			}
			// "  good: " and "  BAD:  " stay; the rest wraps under the
			// verdict.
			const pad = "        "
			b.WriteString(l[:8] + strings.TrimPrefix(wrapIndent(l[8:], w.w, pad), pad) + "\n")
		}
		if w.state == wsDone {
			if w.poweredOff == "" {
				b.WriteString(w.st.Subtle.Render("p powers the verified sticks off so they can be pulled; enter continues") + "\n")
			} else {
				b.WriteString(w.st.Good.Render("✓ "+w.poweredOff+": pull them out now") + "\n")
			}
		}
	}
	return b.String()
}

// stationConfirmView says what the station will do before it starts.
func (w *writeScreen) stationConfirmView() string {
	var b strings.Builder
	b.WriteString(w.st.Bad.Render(wrapIndent("Station: every USB stick or SD card plugged in from now on is erased and written with "+w.image+".", w.w, "")) + "\n\n")
	for _, l := range []string{
		"Each one is verified, powered off where the reader allows, and shown as \"pull me\"; what a desktop mounts on it is unmounted.",
		"Disks plugged in now, and any that is not a removable stick or card (or is over 64 GB), are listed and left alone.",
		"x stops the station; a stick being written then is stopped and counted as failed.",
	} {
		b.WriteString(wrapIndent(l, w.w, "") + "\n")
	}
	b.WriteString("\nPress " + w.st.Bold.Render("y") + " to start the station, n to go back.\n")
	return b.String()
}

// stationView is one bar per slot, what is left alone, and the counts;
// at the end, each card with its serial.
func (w *writeScreen) stationView() string {
	var b strings.Builder
	p := w.stationProg
	if p == nil {
		p = &media.StationProgress{}
	}
	head := fmt.Sprintf("Station: %s · %d written, %d failed", w.imageName(), p.Written, p.Failed)
	if p.Rate > 0 {
		head += " · " + media.HumanRate(p.Rate) + " in all"
	}
	b.WriteString(truncate(head, w.w) + "\n\n")
	if len(p.Slots) == 0 && w.state == wsStation {
		b.WriteString(w.spin.View() + " waiting for a USB stick or SD card to be plugged in…\n")
	}
	slotW := 10
	for _, s := range p.Slots {
		slotW = max(slotW, len(s.Slot))
	}
	for _, s := range p.Slots {
		card := s.Target
		if s.Serial != "" {
			card += " serial " + s.Serial
		}
		left := fmt.Sprintf("%-*s %s", slotW, s.Slot, card)
		switch {
		case s.Busy():
			b.WriteString(truncate(left, w.w) + "\n")
			info := fmt.Sprintf(" %-7s %s", s.Phase, media.HumanRate(s.Rate))
			b.WriteString(strings.Repeat(" ", slotW+1) + w.bar(s.Done, s.Total, w.w-slotW-len(info)-7) + truncate(info, w.w) + "\n")
		case s.Phase == media.SlotPullMe:
			b.WriteString(truncate(left, w.w) + "\n")
			b.WriteString(strings.Repeat(" ", slotW+1) + w.st.Good.Render(truncate("✓ "+s.Verdict+": pull me", w.w-slotW-1)) + "\n")
		case s.Phase == media.SlotFailed:
			b.WriteString(truncate(left, w.w) + "\n")
			b.WriteString(w.st.Bad.Render(wrapIndent("✗ "+s.Verdict, w.w, strings.Repeat(" ", slotW+1))) + "\n")
		default:
			b.WriteString(truncate(fmt.Sprintf("%-*s empty", slotW, s.Slot), w.w) + "\n")
		}
	}
	if len(p.LeftAlone) > 0 {
		b.WriteString("\nLeft alone:\n")
		for _, l := range p.LeftAlone {
			b.WriteString(w.st.Subtle.Render(wrapIndent(l.Label+": "+l.Why, w.w, "  ")) + "\n")
		}
	}
	if r := w.stationRes; r != nil && w.state == wsStationDone {
		b.WriteString("\n")
		for _, l := range r.Lines()[:1+len(r.Cards)] {
			b.WriteString(truncate(l, w.w) + "\n")
		}
		b.WriteString(w.st.Subtle.Render("enter continues") + "\n")
	}
	return b.String()
}

// imageName is the image's file name.
func (w *writeScreen) imageName() string {
	if i := strings.LastIndex(w.image, "/"); i >= 0 {
		return w.image[i+1:]
	}
	return w.image
}
