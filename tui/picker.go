package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/jetup/jetup/profiles"
)

// profileChosenMsg is sent when the person has picked a board.
type profileChosenMsg struct{ profile *profiles.Profile }

// pickerScreen is the first screen: which board is on the bench.
type pickerScreen struct {
	set    *profiles.Set
	choice string
	sel    *huh.Select[string]
	form   *huh.Form
	chosen bool // the choice has been sent: huh keeps reporting completion
	w, h   int
}

func newPicker(set *profiles.Set, last string) *pickerScreen {
	p := &pickerScreen{set: set, choice: last}
	if _, ok := set.Get(last); !ok && len(set.All()) > 0 {
		p.choice = set.All()[0].Name
	}
	p.sel = huh.NewSelect[string]().
		Title("Which board is on the bench?").
		Description("/ filters by name or title; the last board is preselected").
		Options(p.options(80)...).
		Filtering(false).
		Value(&p.choice)
	p.form = huh.NewForm(huh.NewGroup(p.sel)).WithShowHelp(false).WithTheme(huh.ThemeFunc(huh.ThemeCharm))
	return p
}

// options label each profile "name  title", cut to the width so that a
// long title never wraps into the next line.
func (p *pickerScreen) options(width int) []huh.Option[string] {
	var opts []huh.Option[string]
	for _, pr := range p.set.All() {
		label := truncate(fmt.Sprintf("%-28s %s", pr.Name, pr.Title), width-4)
		opts = append(opts, huh.NewOption(label, pr.Name))
	}
	return opts
}

func (p *pickerScreen) Init() tea.Cmd { return p.form.Init() }

func (p *pickerScreen) SetSize(w, h int) {
	p.w, p.h = w, h
	p.sel.Options(p.options(w)...)
	p.sel.Height(max(h-1, 4))
	p.form = p.form.WithWidth(w).WithHeight(h)
}

func (p *pickerScreen) Keys() []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choose")),
		key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
	}
}

func (p *pickerScreen) CapturesKeys() bool { return p.sel.GetFiltering() }

func (p *pickerScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	m, cmd := p.form.Update(msg)
	if f, ok := m.(*huh.Form); ok {
		p.form = f
	}
	if p.form.State == huh.StateCompleted && !p.chosen {
		pr, ok := p.set.Get(p.choice)
		if !ok {
			return p, nil
		}
		p.chosen = true
		return p, func() tea.Msg { return profileChosenMsg{profile: pr} }
	}
	return p, cmd
}

func (p *pickerScreen) View() string { return p.form.View() }
