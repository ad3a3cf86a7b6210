package tui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

// View: the title and the connection, the stage track, the facts (a column
// beside the pane when the window is wide, a line above it when not), the
// pane, and the mode line.
func (c *consoleScreen) View() string {
	var b strings.Builder
	b.WriteString(c.header() + "\n")
	b.WriteString(c.track() + "\n")
	pane := c.paneRows()
	if c.wide() {
		// The pane's rows are already padded to its width: the facts
		// column is put beside them row by row (cheaper than lipgloss
		// joining 60 long styled rows every frame).
		side := strings.Split(c.factsColumn(), "\n")
		for i, row := range pane {
			b.WriteString(row + " ")
			if i < len(side) {
				b.WriteString(fit(side[i], factsWidth))
			}
			b.WriteString("\n")
		}
	} else {
		b.WriteString(fit(c.factsLine(), c.w) + "\n")
		b.WriteString(strings.Join(pane, "\n") + "\n")
	}
	b.WriteString(c.modeLine())
	return b.String()
}

func (c *consoleScreen) header() string {
	mark := c.st.Warn.Render("○")
	switch {
	case c.err != nil:
		mark = c.st.Bad.Render("✗")
	case c.online:
		mark = c.st.Good.Render("●")
	}
	title := c.st.Title.Render("Watch the console")
	right := mark + " " + c.status
	room := c.w - lipgloss.Width(title) - 2
	if lipgloss.Width(right) > room {
		right = fit(right, max(room, 10))
	}
	gap := max(c.w-lipgloss.Width(title)-lipgloss.Width(right), 1)
	return title + strings.Repeat(" ", gap) + right
}

// stageLabels are the track's short names.
var stageLabels = map[string]string{
	serialcon.StageMB1: "MB1", serialcon.StageMB2: "MB2", serialcon.StageFirmware: "firmware", serialcon.StageUBoot: "U-Boot",
	serialcon.StageUEFI: "UEFI", serialcon.StageUEFIMenu: "menu",
	serialcon.StageKernel: "kernel", serialcon.StageNixOS1: "stage-1", serialcon.StageNixOS2: "stage-2",
	serialcon.StageLogin: "login", serialcon.StageShell: "shell",
}

// track draws the boot stages: ✓ passed, ▸ the current one, plain ahead.
func (c *consoleScreen) track() string {
	var parts []string
	pi := c.reached[serialcon.StageFirmware] || c.reached[serialcon.StageUBoot]
	for _, s := range serialcon.Stages {
		label := stageLabels[s]
		// One family's stages: a Jetson never shows the Pi's firmware
		// or U-Boot, a Pi never MB1/MB2.
		pistage := s == serialcon.StageFirmware || s == serialcon.StageUBoot
		if pistage != pi && (s == serialcon.StageMB1 || s == serialcon.StageMB2 || pistage) && !c.reached[s] {
			continue
		}
		switch {
		case s == c.current:
			parts = append(parts, c.st.Accent.Render("▸"+label))
		case c.reached[s]:
			parts = append(parts, c.st.Good.Render("✓"+label))
		default:
			parts = append(parts, c.st.Subtle.Render(label))
		}
	}
	line := strings.Join(parts, " ")
	if lipgloss.Width(line) > c.w {
		line = "boot: " + c.st.Accent.Render(orNone(c.current))
	}
	return line
}

func orNone(s string) string {
	if s == "" {
		return "not started"
	}
	return s
}

// factLabel names a fact in the column (label) and on the one line of a
// narrow window (short).
type factLabel struct{ id, label, short string }

var factLabels = []factLabel{
	{serialcon.FactFirmwareVersion, "firmware", "fw"},
	{serialcon.FactNixOSVersion, "NixOS", "NixOS"},
	{serialcon.FactHostname, "host name", "host"},
	{serialcon.FactIP, "address", "ip"},
	{serialcon.FactHostKey, "host key", "key"},
	{serialcon.FactError, "error", "✗"},
}

// labelOf is fact id's labels.
func labelOf(id string) factLabel {
	for _, l := range factLabels {
		if l.id == id {
			return l
		}
	}
	return factLabel{id, id, id}
}

// narrowOrder puts first what the next steps need, when only one line fits.
// After the address and host name: errors, then the host key (once k has
// asked for it, it is what the push needs).
var narrowOrder = []string{serialcon.FactIP, serialcon.FactHostname, serialcon.FactError, serialcon.FactHostKey,
	serialcon.FactFirmwareVersion, serialcon.FactNixOSVersion}

func (c *consoleScreen) factsLine() string {
	var parts []string
	for _, id := range narrowOrder {
		l := labelOf(id)
		if v := c.value(l.id); v != "" {
			s := l.short + " " + v
			if l.id == serialcon.FactError {
				s = c.st.Bad.Render(s)
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return c.st.Subtle.Render("no facts yet: the firmware version, host name and address appear as the board prints them")
	}
	return strings.Join(parts, " · ")
}

func (c *consoleScreen) factsColumn() string {
	var b strings.Builder
	b.WriteString(c.st.Bold.Render("Facts") + "\n")
	for _, l := range factLabels {
		v := c.value(l.id)
		if v == "" {
			v = c.st.Subtle.Render("–")
		} else if l.id == serialcon.FactError {
			v = c.st.Bad.Render(wrapIndent(v, factsWidth, "  "))
			b.WriteString(c.st.Bad.Render("✗ error") + "\n" + v + "\n")
			continue
		}
		b.WriteString(fmt.Sprintf("%-10s %s\n", l.label, truncate(v, factsWidth-11)))
	}
	if c.warn != "" {
		b.WriteString("\n" + c.st.Warn.Render(wrapIndent(c.warn, factsWidth, "")) + "\n")
	}
	for _, t := range strings.Split(strings.TrimSpace(c.traps), "\n") {
		if t != "" {
			b.WriteString("\n" + c.st.Subtle.Render(wrapIndent("! "+t, factsWidth, "  ")) + "\n")
		}
	}
	// k's part before the address note: a short window cuts the column.
	b.WriteString(c.sshSection())
	if ip := c.value(serialcon.FactIP); ip != "" {
		b.WriteString("\n" + c.st.Subtle.Render(wrapIndent("The push step will use "+ip+".", factsWidth, "")) + "\n")
	}
	return b.String()
}

// paneRows are the console pane's rows; after a failure, what went wrong
// and what to do come first, over the console it stopped.
func (c *consoleScreen) paneRows() []string {
	if c.pane == nil {
		return nil
	}
	rows := c.pane.Rows()
	if c.err != nil {
		text := c.st.Bad.Render(wrapIndent("✗ "+c.err.Error(), c.paneW, "")) + "\n"
		if next := step.NextOf(c.err); next != "" {
			text += wrapIndent("Next: "+next, c.paneW, "") + "\n"
		}
		msg := strings.Split(text, "\n")
		rows = append(msg, rows...)
		rows = rows[:min(len(rows), c.paneH)]
	}
	return fitPane(rows, c.paneW, c.paneH)
}

func (c *consoleScreen) modeLine() string {
	var s string
	switch {
	case c.focus:
		s = c.st.Accent.Render("TYPING TO THE BOARD") + " · every key goes to the board · ctrl+] to stop"
	case c.searching:
		s = "search: " + c.query + "█"
	case c.err != nil:
		s = c.st.Bad.Render("✗ stopped") + " · r: try again · s: skip this step"
	case c.notFound:
		s = c.st.Warn.Render(fmt.Sprintf("%q not found", c.query)) + " · / to search again"
	case c.pane != nil && !c.pane.Following():
		s = fmt.Sprintf("paused at line %d of %d · end to follow", c.pane.Top()+1, c.pane.Lines())
		if m := c.pane.Match(); m >= 0 {
			s = fmt.Sprintf("match at line %d · n/N next/previous · end to follow", m+1)
		}
	case c.warn != "" && !c.wide():
		s = c.st.Warn.Render(c.warn)
	case c.ssh.state != sshIdle && !c.wide():
		s = c.sshShort()
	case c.value(serialcon.FactIP) != "":
		s = "following · enter: continue with " + c.value(serialcon.FactIP)
		if c.atLinuxShell() && c.ssh.state == sshIdle {
			s = "following · k: SSH key · enter: continue with " + c.value(serialcon.FactIP)
		}
	default:
		s = "following · i: type to the board · e: ESC into the UEFI menu while it counts down"
	}
	return fit(s, c.w)
}
