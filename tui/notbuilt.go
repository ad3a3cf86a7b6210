package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// notBuiltScreen stands in for a step whose screen does not exist yet. It
// says so plainly and lets the person skip the step.
type notBuiltScreen struct {
	title string
	id    step.ID
	st    *Styles
	w     int
}

func newNotBuilt(id step.ID, st *Styles) Screen {
	return &notBuiltScreen{id: id, title: titleOf(id), st: st}
}

func (n *notBuiltScreen) Init() tea.Cmd       { return nil }
func (n *notBuiltScreen) SetSize(w, _ int)    { n.w = w }
func (n *notBuiltScreen) CapturesKeys() bool  { return false }
func (n *notBuiltScreen) Keys() []key.Binding { return []key.Binding{skipKey} }

var skipKey = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "skip"))

func (n *notBuiltScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, skipKey) {
		return n, Done(runrec.Skipped, "step not built yet in this version of jetup", nil)
	}
	return n, nil
}

func (n *notBuiltScreen) View() string {
	return n.st.Title.Render(n.title) + "\n\n" +
		wrapIndent(fmt.Sprintf("The %s step is not built yet in this version of jetup. Do it by hand (`jetup %s --help` once it exists), then press enter to skip it here.", strings.ToLower(n.title), n.id), n.w, "") + "\n"
}
