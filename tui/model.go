package tui

import (
	"fmt"
	"maps"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// Options start the wizard.
type Options struct {
	Profiles *profiles.Set
	// Profile, when set, skips the picker.
	Profile  string
	StateDir string
	Version  string
	Host     runrec.Host
	Hardware hardware.Edges
	// Sim marks the run record as a run against the simulated bench.
	Sim bool
	// Kits is the field kits' side (issue 20): the picker's "prepare for
	// offline use", the header's "offline · kit KIT". nil hides it.
	Kits *FieldKits
	// NoOverlap keeps a bench to one board at a time: the next board
	// starts only after the last one's summary (bench_flight.go).
	NoOverlap bool
}

type entryState int

const (
	pending entryState = iota
	done
	failed
	skipped
)

// entry is one line of the step list.
type entry struct {
	id     step.ID // "" for the profile picker and the summary
	title  string
	state  entryState
	screen Screen
	make   func() Screen
	open   *runrec.Step // the attempt in progress, if any
	// label is the bench's label question (no step of its own).
	label bool
	// carried: the entry was passed by on its own once (bench_carry.go);
	// coming back to it opens it.
	carried bool
}

// Model is the root model.
type Model struct {
	opt     Options
	sess    *Session
	st      *Styles
	entries []*entry
	cur     int
	w, h    int

	showHelp    bool
	confirmQuit bool
	quitting    bool
	help        help.Model
	err         string // a problem of the wizard itself (run record unwritable)
	notice      string // said once, until the next key (a damaged bench session set aside)
	boards      int    // boards brought up before this one in this wizard
	kit, kitFor string // offline: the newest whole kit for profile kitFor
	bench       *runrec.Bench
	done        []*Session // the sessions of the boards before, ended with the wizard
	flights     []*flight  // boards whose push and checks go on while the next is set up
	prevRun     string     // the run of the board before this one
	finishing   bool       // the bench ends once the boards in flight land
	failures    []boardRow // boards before this one that failed, until dismissed

	// screens are the registered screens (screen.go), copied so that a
	// test may replace one for its own wizard.
	screens map[step.ID]ScreenFactory
}

// New makes the wizard.
func New(o Options) *Model {
	m := &Model{opt: o, st: DefaultStyles(), sess: newSession(o.Hardware, o.StateDir, o.Version), help: help.New(), w: 80, h: 24,
		screens: maps.Clone(screens)}
	m.sess.Profiles = o.Profiles
	m.sess.Kits = o.Kits
	last := loadRemembered(o.StateDir).LastProfile
	m.entries = []*entry{{title: "Profile", make: func() Screen { return newPicker(o.Profiles, last, m.prepareStarter()) }}}
	return m
}

// Init starts the picker, or skips it when a profile was given.
func (m *Model) Init() tea.Cmd {
	if p, ok := m.opt.Profiles.Get(m.opt.Profile); ok {
		return func() tea.Msg { return profileChosenMsg{profile: p} }
	}
	return m.activate(pickerEntry)
}

// activate makes entry i the active one and starts its screen.
func (m *Model) activate(i int) tea.Cmd {
	i = m.passCarried(i)
	if m.cur != i && m.cur < len(m.entries) {
		if l, ok := m.entries[m.cur].screen.(Leaver); ok {
			l.Leave()
		}
	}
	m.cur = i
	e := m.entries[i]
	if e.screen == nil {
		e.screen = e.make()
	}
	if e.id != "" && e.open == nil && m.sess.Run != nil {
		e.open = m.sess.Run.Begin(e.id)
	}
	m.sess.current = e.open
	w, h := m.contentSize()
	e.screen.SetSize(w, h)
	return e.screen.Init()
}

func (m *Model) active() *entry { return m.entries[m.cur] }

type quitDoneMsg struct{}

// quit ends every running task (and with it child processes and devices),
// closes the run record and leaves.
func (m *Model) quit(outcome runrec.Outcome) tea.Cmd {
	m.quitting = true
	sess, flights := m.sess, m.flights
	return func() tea.Msg {
		for _, f := range flights {
			f.sess.end(runrec.Cancelled)
		}
		sess.end(outcome)
		return quitDoneMsg{}
	}
}

// Close stops whatever still runs and closes the run record. The program
// calls it after Bubble Tea returns, however the program ended.
func (m *Model) Close() {
	for _, f := range m.flights {
		f.sess.end(runrec.Cancelled)
	}
	for _, s := range m.done {
		s.stop()
	}
	m.sess.end(m.overall(false))
}

// overall is the run's outcome when the person quits now.
func (m *Model) overall(finished bool) runrec.Outcome {
	for _, e := range m.entries {
		if e.state == failed {
			return runrec.Failed
		}
	}
	if finished {
		return runrec.Success
	}
	return runrec.Cancelled
}

// Update routes messages.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		if s := m.active().screen; s != nil {
			s.SetSize(m.contentSize())
		}
		return m, nil
	case quitDoneMsg:
		return m, tea.Quit
	case profileChosenMsg:
		return m, m.choose(msg.profile)
	case kitFoundMsg:
		m.kit, m.kitFor = msg.kit, msg.profile
		m.recordKit()
		return m, nil
	case ChangeProfileMsg:
		return m, m.changeProfile(msg)
	case DoneMsg:
		return m, m.finishStep(msg)
	case RetryMsg:
		if e := m.active(); e.id != "" && e.open == nil && m.sess.Run != nil {
			e.open = m.sess.Run.Begin(e.id)
			m.sess.current = e.open
			e.state = pending
		}
		return m, nil
	case GoToMsg:
		return m, m.goTo(msg.Step, msg.Fresh)
	case nextBoardMsg:
		return m, m.nextBoard()
	case labelChosenMsg:
		return m, m.labelChosen(msg.label)
	case flightMsg:
		return m, m.flightDone(msg)
	case endBenchMsg:
		return m, m.endBench()
	case finishMsg:
		return m, m.quit(m.overall(true))
	case tea.KeyPressMsg:
		m.notice = ""
		if cmd, handled := m.handleKey(msg); handled {
			return m, cmd
		}
	}
	var flights tea.Cmd
	if _, ok := msg.(tea.KeyPressMsg); !ok && len(m.flights) > 0 {
		flights = m.feedFlights(msg)
	}
	if m.quitting || m.active().screen == nil {
		return m, flights
	}
	s, cmd := m.active().screen.Update(msg)
	m.active().screen = s
	return m, tea.Batch(cmd, flights)
}

// handleKey applies the keys that mean the same on every screen.
func (m *Model) handleKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	if m.quitting {
		return nil, true
	}
	if m.confirmQuit {
		switch k.String() {
		case "y", "Y", "ctrl+c":
			return m.quit(m.overall(false)), true
		default:
			m.confirmQuit = false
			return nil, true
		}
	}
	capturing := m.active().screen != nil && m.active().screen.CapturesKeys()
	if capturing && m.passesCtrlC() && key.Matches(k, keys.ForceQuit) {
		return nil, false
	}
	switch {
	case key.Matches(k, keys.ForceQuit), !capturing && key.Matches(k, keys.Quit):
		if m.sess.Busy() || m.flightsBusy() {
			m.confirmQuit = true
			return nil, true
		}
		return m.quit(m.overall(false)), true
	case capturing:
		return nil, false
	case key.Matches(k, keys.Help):
		m.showHelp = !m.showHelp
		return nil, true
	case key.Matches(k, keys.Back) && !m.sess.Busy():
		return m.back(), true
	case key.Matches(k, keys.Skip) && !m.sess.Busy():
		return m.skip(), true
	case len(m.failures) > 0 && key.Matches(k, dismissKey):
		m.dismiss()
		if s := m.active().screen; s != nil {
			s.SetSize(m.contentSize())
		}
		return nil, true
	}
	return nil, false
}

const sidebarWidth = 16

// contentSize is the active screen's area: the window minus the header,
// the step list and the help bar.
func (m *Model) contentSize() (int, int) {
	w := m.w - sidebarWidth - 3
	h := m.h - 4 - m.rowLines()
	if m.showHelp {
		h -= 3
	}
	return max(w, 20), max(h, 5)
}

// rowLines is how many lines the failed boards' rows take above the
// screen (with the blank line under them).
func (m *Model) rowLines() int {
	if n := len(m.rows(80)); n > 0 {
		return n + 1
	}
	return 0
}

// View draws the frame around the active screen.
func (m *Model) View() tea.View {
	var b strings.Builder
	title := "jetup"
	if m.sess.Profile != nil {
		title += " · " + m.sess.Profile.Title
	}
	right := ""
	if m.boards > 0 {
		right = fmt.Sprintf("board %d", m.boards+1)
	}
	if m.sess.Run != nil {
		right = "run " + m.sess.Run.ID()
		if m.boards > 0 {
			right = fmt.Sprintf("board %d · %s", m.boards+1, right)
		}
	}
	if off := m.offlineLabel(); off != "" {
		right = strings.TrimSuffix(off+" · "+right, " · ")
	}
	gap := m.w - lipgloss.Width(title) - lipgloss.Width(right)
	if gap < 1 {
		right, gap = "", 1
	}
	b.WriteString(m.st.Accent.Render(title) + strings.Repeat(" ", gap) + m.st.Subtle.Render(right) + "\n\n")

	cw, ch := m.contentSize()
	full := ch + m.rowLines()
	side := m.sidebar(full)
	content := ""
	if s := m.active().screen; s != nil {
		content = s.View()
	}
	content = lipgloss.NewStyle().Width(cw).MaxWidth(cw).Height(ch).MaxHeight(ch).Render(content)
	content = withRows(m.rows(cw), content)
	sep := m.st.Subtle.Render(strings.TrimRight(strings.Repeat(" │ \n", full), "\n"))
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, side, sep, content) + "\n")
	b.WriteString(m.footer())

	v := tea.NewView(b.String())
	v.AltScreen = true
	v.WindowTitle = title
	return v
}

func (m *Model) sidebar(h int) string {
	var b strings.Builder
	for i, e := range m.entries {
		mark := m.st.Subtle.Render("·")
		switch {
		case i == m.cur:
			mark = m.st.Accent.Render("▸")
		case e.state == done:
			mark = m.st.Good.Render("✓")
		case e.state == failed:
			mark = m.st.Bad.Render("✗")
		case e.state == skipped:
			mark = m.st.Subtle.Render("–")
		}
		name := e.title
		if i == m.cur {
			name = m.st.Bold.Render(name)
		}
		b.WriteString(mark + " " + name + "\n")
	}
	return lipgloss.NewStyle().Width(sidebarWidth).Height(h).MaxHeight(h).Render(b.String())
}

// passesCtrlC reports whether the active screen takes ctrl+c itself now.
func (m *Model) passesCtrlC() bool {
	p, ok := m.active().screen.(CtrlCPasser)
	return ok && p.PassesCtrlC()
}

func (m *Model) footer() string {
	if m.err != "" {
		return m.st.Bad.Render(truncate(m.err, m.w))
	}
	if m.quitting {
		return m.st.Warn.Render("Stopping running work and closing the run record…")
	}
	if m.finishing {
		return m.st.Warn.Render(fit(fmt.Sprintf("No more boards: the bench ends once %d board(s) in flight land; ctrl+c stops them", len(m.flights)), m.w))
	}
	if m.notice != "" {
		return m.st.Warn.Render(fit("! "+m.notice, m.w))
	}
	if m.confirmQuit {
		return m.st.Warn.Render("A step is still running. Quit and stop it? y to quit, any other key to stay")
	}
	var screenKeys []key.Binding
	if s := m.active().screen; s != nil {
		screenKeys = s.Keys()
	}
	// Back and skip do nothing while a step runs, and a screen that captures
	// keys (a filter, the console's focus mode) gets q and ? itself: offer
	// only what applies.
	global := []key.Binding{keys.Quit, keys.Help}
	if s := m.active().screen; s != nil && s.CapturesKeys() {
		global = nil
		if !m.passesCtrlC() {
			global = []key.Binding{keys.ForceQuit}
		}
	} else if !m.sess.Busy() {
		global = append([]key.Binding{keys.Back}, global...)
		if len(m.failures) > 0 {
			global = append(global, dismissKey)
		}
		if e := m.active(); e.id != "" && e.id != step.Doctor {
			global = append([]key.Binding{keys.Skip}, global...)
		}
	}
	if m.showHelp {
		return m.help.FullHelpView([][]key.Binding{screenKeys, global, {keys.ForceQuit}})
	}
	// bubbles' help adds an item that does not fit when its ellipsis does
	// not fit either: the line is cut to the window here.
	return fit(m.help.ShortHelpView(append(screenKeys, global...)), m.w)
}
