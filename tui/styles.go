package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
)

// Styles are shared by every screen. State is never shown by colour alone:
// each mark has its own symbol, so NO_COLOR and monochrome terminals read
// the same.
type Styles struct {
	Title, Subtle, Bold, Good, Bad, Warn, Accent, Box lipgloss.Style
}

// DefaultStyles are tuned for dark and light backgrounds alike.
func DefaultStyles() *Styles {
	return &Styles{
		Title:  lipgloss.NewStyle().Bold(true),
		Subtle: lipgloss.NewStyle().Foreground(lipgloss.Color("245")),
		Bold:   lipgloss.NewStyle().Bold(true),
		Good:   lipgloss.NewStyle().Foreground(lipgloss.Color("34")),
		Bad:    lipgloss.NewStyle().Foreground(lipgloss.Color("160")).Bold(true),
		Warn:   lipgloss.NewStyle().Foreground(lipgloss.Color("172")),
		Accent: lipgloss.NewStyle().Foreground(lipgloss.Color("63")).Bold(true),
		Box:    lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("240")).Padding(0, 1),
	}
}

// Keys the same on every screen.
type globalKeys struct {
	Continue, Back, Skip, Quit, Help, ForceQuit key.Binding
}

var keys = globalKeys{
	Continue:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue")),
	Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	Skip:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip step")),
	Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
	Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
	ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
}
