package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/progress"

	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/step"
)

func (w *writeScreen) View() string {
	var b strings.Builder
	b.WriteString(w.st.Title.Render("Write the installer") + "\n\n")
	switch w.state {
	case wsImage:
		b.WriteString("Which image goes on the stick?\n\n")
		for i, o := range w.imageOptions() {
			mark := "  "
			if i == w.imageChoice {
				mark = w.st.Accent.Render("▸ ")
			}
			b.WriteString(mark + truncate(o, w.w-2) + "\n")
		}
		if w.editingFile {
			b.WriteString("\nImage file (raw, .zst, .xz, .gz, .bz2; a .bmap and .sha256 beside it are used):\n" + w.fileInput.View() + "\n")
		}
	case wsBuilding:
		b.WriteString(w.spin.View() + " building the installer with nix…\n")
		if p := w.buildProg; p != nil {
			detail := p.Summary()
			if p.Activity != "" {
				detail = strings.TrimPrefix(detail+" · "+p.Activity, " · ")
			}
			b.WriteString(w.st.Subtle.Render(truncate(detail, w.w)) + "\n")
		}
		b.WriteString("\n" + w.tail(w.logs, w.h-7))
	case wsDisks, wsPreparing:
		b.WriteString(w.diskList())
	case wsConfirm:
		if w.batch != nil {
			b.WriteString(w.confirmBatchView())
		} else {
			b.WriteString(w.confirmView())
		}
	case wsWriting, wsDone:
		if w.batch != nil {
			b.WriteString(w.targetsView())
		} else {
			b.WriteString(w.progressView())
		}
	case wsFailed:
		switch {
		case w.batch != nil && w.receipts != nil:
			b.WriteString(w.targetsView())
		case w.receipt != nil:
			b.WriteString(w.progressView())
		}
	case wsStationConfirm:
		b.WriteString(w.stationConfirmView())
	case wsStation, wsStationDone:
		b.WriteString(w.stationView())
	}
	if w.err != nil {
		b.WriteString("\n" + w.st.Bad.Render(wrapIndent("✗ "+w.err.Error(), w.w, "")) + "\n")
		if next := step.NextOf(w.err); next != "" {
			b.WriteString(wrapIndent("next: "+next, w.w, "") + "\n")
		}
		if w.state == wsFailed {
			b.WriteString(w.st.Subtle.Render("r starts over; enter leaves the step") + "\n")
		}
	}
	return b.String()
}

func (w *writeScreen) tail(lines []string, n int) string {
	if n < 1 {
		n = 1
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(w.st.Subtle.Render(truncate(l, w.w)) + "\n")
	}
	return b.String()
}

// diskList shows every disk: candidates to pick, the rest with the reason
// they are excluded. It follows hotplug.
func (w *writeScreen) diskList() string {
	var b strings.Builder
	b.WriteString(truncate("Image: "+w.image, w.w) + "\n")
	b.WriteString(wrapIndent("Pick the stick or card to erase (the list follows plugging and unplugging); space marks several to write at once; t writes each one plugged in from now on (station):", w.w, "") + "\n\n")
	if len(w.disks) == 0 {
		b.WriteString(w.st.Subtle.Render("no disks found") + "\n")
	}
	wide := w.w >= 120
	modelW := max(w.w-44, 8)
	if len(w.marked) > 0 {
		modelW = max(modelW-4, 8) // the marks' boxes
	}
	if wide {
		modelW = 32
	}
	for i, d := range w.disks {
		mark := "  "
		if i == w.cursor {
			mark = w.st.Accent.Render("▸ ")
		}
		if len(w.marked) > 0 {
			box := "[ ] "
			if w.marked[d.Name] {
				box = w.st.Accent.Render("[x] ")
			}
			mark += box
		}
		block := media.Blocking(w.reasons[i])
		status := w.st.Good.Render("✓ writable")
		if len(block) > 0 {
			status = w.st.Bad.Render("✗ " + block[0].Cause)
		} else if len(w.reasons[i]) > 0 {
			status = w.st.Warn.Render("! mounted")
		}
		name := strings.TrimSpace(d.Vendor + " " + d.Model)
		line := fmt.Sprintf("%-9s %9s %-5s %-*s ", d.Name, media.HumanBytes(d.Size), d.Transport, modelW, truncate(name, modelW))
		if wide {
			line += fmt.Sprintf("%-22s ", truncate(d.Serial, 22))
		}
		b.WriteString(mark + line + status + "\n")
		if i == w.cursor {
			shown := w.reasons[i]
			if len(block) > 0 {
				shown = block[:1] // the weightiest; --list has them all
			}
			for _, r := range shown {
				text := r.What + " (" + r.Next + ")"
				if r.Consent {
					text = r.What + ": they are unmounted when you confirm"
				}
				b.WriteString(w.st.Subtle.Render(wrapIndent(text, w.w, "    ")) + "\n")
			}
		}
	}
	if w.state == wsPreparing {
		b.WriteString("\n" + w.spin.View() + " checking the disk and reading what is on it…\n")
	}
	return b.String()
}

func (w *writeScreen) confirmView() string {
	var b strings.Builder
	for i, l := range w.plan.Summary() {
		indent := ""
		if strings.HasPrefix(l, "  ") {
			indent = "  "
		}
		l = wrapIndent(l, w.w, indent)
		if i == 0 {
			l = w.st.Bad.Render(l)
		}
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")
	if w.plan.NeedsTypedName {
		why := "it is over 64 GB"
		if w.plan.Disk.Fixed() {
			why = "it is not a USB stick or SD card"
		}
		b.WriteString(fmt.Sprintf("Type %s and press enter to erase it (%s; esc picks another disk):\n", w.st.Bold.Render(w.plan.Confirmation()), why))
		b.WriteString(w.nameInput.View() + "\n")
	} else {
		b.WriteString("Press " + w.st.Bold.Render("y") + " to erase it and write, n to pick another disk.\n")
	}
	return b.String()
}

// progressView is the phase, a bar, the numbers and the rate graph.
func (w *writeScreen) progressView() string {
	var b strings.Builder
	p := w.prog
	title := map[string]string{media.PhaseChecksum: "Checking the checksum", media.PhaseWrite: "Writing", media.PhaseFlush: "Flushing",
		media.PhaseVerify: "Verifying (reading back)"}[p.Phase]
	if title == "" {
		title = "Starting"
	}
	if w.state == wsDone {
		title = "Done"
	}
	b.WriteString(truncate(fmt.Sprintf("%s %s → %s", title, w.plan.Image.Name, w.plan.Disk.Path), w.w) + "\n")
	frac := 0.0
	if p.Total > 0 {
		frac = min(float64(p.Done)/float64(p.Total), 1)
	}
	bar := progress.New(progress.WithWidth(max(w.w-8, 10)), progress.WithFillCharacters('█', '░'), progress.WithoutPercentage())
	b.WriteString(bar.ViewAs(frac) + fmt.Sprintf(" %3.0f%%\n", frac*100))
	b.WriteString(truncate(p.Text(), w.w) + "\n\n")
	b.WriteString(w.graph())
	if w.stage != "" && w.state != wsDone {
		b.WriteString("\n" + w.st.Subtle.Render(truncate(w.stage, w.w)) + "\n")
	}
	if rc := w.receipt; rc != nil && w.state == wsDone {
		b.WriteString("\n" + w.st.Good.Render("✓ written and verified") + "\n")
		for _, l := range strings.Split(rc.Text(), "\n") {
			b.WriteString(truncate(l, w.w) + "\n")
		}
		if w.poweredOff != "" {
			b.WriteString(w.st.Good.Render(fmt.Sprintf("✓ %s %s: pull it out now", w.plan.Disk.Path, w.poweredOff)) + "\n")
		} else if w.stage != "" && strings.Contains(w.stage, "power") {
			b.WriteString(truncate(w.stage, w.w) + "\n")
		} else {
			b.WriteString(w.st.Subtle.Render("p powers the stick off so it can be pulled; enter continues") + "\n")
		}
	}
	return b.String()
}

// graph is the device rate, one column a second, with what held it back.
func (w *writeScreen) graph() string {
	if len(w.samples) == 0 {
		return ""
	}
	width := max(w.w-14, 10)
	s := w.samples
	if len(s) > width {
		s = s[len(s)-width:]
	}
	peak := 1.0
	for _, x := range s {
		peak = max(peak, x.Device, x.Source)
	}
	levels := []rune(" ▁▂▃▄▅▆▇█")
	var dev, src strings.Builder
	for _, x := range s {
		dev.WriteRune(levels[int(x.Device/peak*8)])
		if x.Source > 0 {
			src.WriteRune(levels[min(int(x.Source/peak*8), 8)])
		} else {
			src.WriteRune(' ')
		}
	}
	last := s[len(s)-1]
	label := "balanced"
	switch last.Bottleneck {
	case media.BottleneckDevice:
		label = "the device is the bottleneck"
	case media.BottleneckSource:
		label = "decompression is the bottleneck"
	}
	if last.Phase == media.PhaseVerify {
		label = "reading back"
	}
	out := fmt.Sprintf("device %s\n", dev.String())
	if last.Phase == media.PhaseWrite {
		out += fmt.Sprintf("image  %s\n", src.String())
	}
	return out + w.st.Subtle.Render(truncate(fmt.Sprintf("peak %s · %s", media.HumanRate(peak), label), w.w)) + "\n"
}
