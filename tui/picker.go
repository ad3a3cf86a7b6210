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
	// startPrepare is "prepare for offline use" for the highlighted
	// board (nil without kits); prep is that prepare while it is shown.
	startPrepare func(*profiles.Profile) (*prepareView, tea.Cmd)
	prep         *prepareView
}

func newPicker(set *profiles.Set, last string, prepare func(*profiles.Profile) (*prepareView, tea.Cmd)) *pickerScreen {
	p := &pickerScreen{set: set, choice: last, startPrepare: prepare}
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
	if p.prep != nil {
		return p.prep.Keys()
	}
	keys := []key.Binding{
		key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choose")),
		key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
	}
	if p.startPrepare != nil {
		keys = append(keys, prepareKey)
	}
	return keys
}

// CapturesKeys while filtering, and while a prepare's outcome is shown:
// enter and esc then lead back to the list.
func (p *pickerScreen) CapturesKeys() bool {
	if p.prep != nil {
		return !p.prep.running()
	}
	return p.sel.GetFiltering()
}

func (p *pickerScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	if p.prep != nil {
		if _, ok := msg.(prepareDoneMsg); ok {
			p.prep = nil
			return p, nil
		}
		return p, p.prep.Update(msg)
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && p.startPrepare != nil && !p.sel.GetFiltering() && key.Matches(k, prepareKey) {
		name, ok := p.sel.Hovered()
		if pr, known := p.set.Get(name); ok && known {
			var cmd tea.Cmd
			p.prep, cmd = p.startPrepare(pr)
			return p, cmd
		}
		return p, nil
	}
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

func (p *pickerScreen) View() string {
	if p.prep != nil {
		return p.prep.View(p.w)
	}
	return p.form.View()
}
