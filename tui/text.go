package tui

// Text helpers every screen uses to fit its words to the content area.

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// truncate cuts s to n display columns with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if n <= 1 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// wrapIndent wraps words to width with indent on every line.
func wrapIndent(s string, width int, indent string) string {
	width -= len(indent)
	if width < 20 {
		width = 20
	}
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > width {
			lines = append(lines, indent+line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, indent+line)
	}
	return strings.Join(lines, "\n")
}

// hanging wraps s to width with prefix on the first line and its width of
// indent on the others.
func hanging(prefix, s string, width int) string {
	ind := strings.Repeat(" ", lipgloss.Width(prefix))
	w := wrapIndent(s, width, ind)
	return prefix + strings.TrimPrefix(w, ind)
}

// lineCount is the number of lines in the parts together.
func lineCount(parts ...string) int {
	n := 0
	for _, p := range parts {
		n += strings.Count(p, "\n") + 1
	}
	return n
}

// fitLines cuts s to n lines, saying how many were left out.
func fitLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if n < 1 {
		n = 1
	}
	if len(lines) <= n {
		return s
	}
	cut := len(lines) - n + 1
	return strings.Join(lines[:n-1], "\n") + "\n" + fmt.Sprintf("… %d more lines: a taller window shows them", cut)
}

// fit cuts styled text to n columns with an ellipsis.
func fit(s string, n int) string { return ansi.Truncate(s, n, "…") }
