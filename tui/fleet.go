package tui

// The fleet screen (`jetup fleet FILE`): its own program beside the
// wizard, a row per node of the inventory, fed by the events fleet.Push
// emits (the same ones `jetup fleet push --json` prints). The screen runs
// fleet.Push as a Task; it never talks to a node itself.

import (
	"context"
	"errors"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/fleet"
	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// FleetOptions start the fleet screen.
type FleetOptions struct {
	// Push are the fleet run's options (the inventory, --parallel,
	// --keep-going, --only, --no-verify, the state directory).
	Push fleet.Options
	Edge fleet.Edge
	// Reload reads the inventory again before each run after the first,
	// so a fix made while the screen is open is pushed; nil keeps
	// Push.Inventory.
	Reload func(ctx context.Context) (*fleet.Inventory, error)
	// Start pushes at once instead of waiting for p.
	Start bool
}

// FleetModel is the fleet screen's root model.
type FleetModel struct {
	o    FleetOptions
	st   *Styles
	sess *Session
	help help.Model
	spin spinner.Model
	w, h int

	rows   []*fleetRow
	byName map[string]*fleetRow
	cursor int
	run    fleetRunView

	task   *Task
	runs   int // fleet runs started from this screen
	detail *nodeView

	confirmQuit bool
	quitting    bool
}

var (
	fleetPushKey   = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "push the fleet"))
	fleetAgainKey  = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "push again (done nodes are skipped)"))
	fleetOpenKey   = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open the node's run"))
	fleetMoveKey   = key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑/↓", "choose a node"))
	fleetStopKey   = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop the run"))
	fleetBackKey   = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to the fleet"))
	fleetScrollKey = key.NewBinding(key.WithKeys("pgup", "pgdown", "home", "end"), key.WithHelp("pgup/pgdn", "scroll"))
)

// NewFleet makes the fleet screen; the rows are the inventory's nodes
// until the first run's plan replaces them.
func NewFleet(o FleetOptions) *FleetModel {
	m := &FleetModel{o: o, st: DefaultStyles(), sess: newSession(hardware.Edges{}, o.Push.StateDir, o.Push.Version), help: help.New(),
		spin: spinner.New(spinner.WithSpinner(spinner.Dot)), w: 80, h: 24}
	if inv := o.Push.Inventory; inv != nil {
		m.rowsFromInventory(inv)
	}
	return m
}

// Init starts the first run when asked to.
func (m *FleetModel) Init() tea.Cmd {
	if m.o.Start {
		return m.start()
	}
	return nil
}

// Running reports whether a fleet run is in progress.
func (m *FleetModel) Running() bool { return m.task != nil }

// Result is the last run's verdict (nil before a run ended).
func (m *FleetModel) Result() *fleet.Result { return m.run.result }

// ExitCode is what `jetup fleet FILE` exits with: the last run's exit
// code (1 when it was stopped), a refusal's, 0 when nothing ran.
func (m *FleetModel) ExitCode() int {
	switch {
	case m.run.result != nil:
		return m.run.result.ExitCode
	case m.run.err != nil:
		return step.ExitCodeOf(m.run.err)
	}
	return 0
}

// Close stops a run still going (its nodes' ssh and nix end with it) and
// waits for it. The program calls it however Bubble Tea ended.
func (m *FleetModel) Close() { m.sess.end(runrec.Cancelled) }

// start runs the fleet.
func (m *FleetModel) start() tea.Cmd {
	if m.task != nil {
		return nil
	}
	o, edge, reload, again := m.o.Push, m.o.Edge, m.o.Reload, m.runs > 0
	m.runs++
	m.run = fleetRunView{starting: true}
	for _, r := range m.rows {
		r.reset()
	}
	t, cmd := m.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		if again && reload != nil {
			inv, err := reload(ctx)
			if err != nil {
				return nil, err
			}
			o.Inventory = inv
		}
		return fleet.Push(ctx, edge, o, sink)
	})
	m.task = t
	return tea.Batch(cmd, m.spin.Tick)
}

// Update routes messages.
func (m *FleetModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, nil
	case quitDoneMsg:
		return m, tea.Quit
	case TaskEventMsg:
		if msg.Task != m.task {
			return m, nil
		}
		m.event(msg.Event)
		return m, m.task.Next()
	case TaskDoneMsg:
		if msg.Task != m.task {
			return m, nil
		}
		m.finished(msg)
		return m, nil
	case spinner.TickMsg:
		if m.task == nil {
			return m, nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// finished takes the run's end: its result, or why it refused to start.
func (m *FleetModel) finished(d TaskDoneMsg) {
	m.task = nil
	m.run.starting = false
	if res, ok := d.Result.(*fleet.Result); ok && res != nil {
		m.result(*res)
		return
	}
	err := d.Err
	if err == nil {
		err = errors.New("the fleet run ended without a result")
	}
	m.run.err = err
}

func (m *FleetModel) key(k tea.KeyPressMsg) tea.Cmd {
	if m.quitting {
		return nil
	}
	if m.confirmQuit {
		m.confirmQuit = false
		if s := k.String(); s == "y" || s == "Y" || s == "ctrl+c" {
			return m.quit()
		}
		return nil
	}
	switch {
	case key.Matches(k, keys.ForceQuit), key.Matches(k, keys.Quit):
		if m.task != nil {
			m.confirmQuit = true
			return nil
		}
		return m.quit()
	case key.Matches(k, keys.Help):
		m.help.ShowAll = !m.help.ShowAll
		return nil
	}
	if m.detail != nil {
		if key.Matches(k, fleetBackKey) {
			m.detail = nil
			return nil
		}
		m.detail.key(k, m.detailHeight())
		return nil
	}
	switch {
	case key.Matches(k, fleetMoveKey):
		if s := k.String(); s == "up" || s == "k" {
			m.cursor = max(m.cursor-1, 0)
		} else {
			m.cursor = min(m.cursor+1, len(m.rows)-1)
		}
	case key.Matches(k, fleetOpenKey) && len(m.rows) > 0:
		m.detail = newNodeView(m.rows[m.cursor], m.o.Push.StateDir)
	case key.Matches(k, fleetPushKey) && m.task == nil:
		return m.start()
	case key.Matches(k, fleetStopKey) && m.task != nil:
		m.run.stopping = true
		m.task.Cancel()
	}
	return nil
}

// quit stops a run still going, waits for its nodes' processes to end,
// then leaves.
func (m *FleetModel) quit() tea.Cmd {
	m.quitting = true
	sess := m.sess
	return func() tea.Msg {
		sess.end(runrec.Cancelled)
		return quitDoneMsg{}
	}
}

// keys are the keys that apply now.
func (m *FleetModel) keys() []key.Binding {
	if m.detail != nil {
		return []key.Binding{fleetBackKey, fleetScrollKey, keys.Quit}
	}
	ks := []key.Binding{fleetMoveKey, fleetOpenKey}
	switch {
	case m.task != nil:
		ks = append(ks, fleetStopKey)
	case m.runs == 0:
		ks = append(ks, fleetPushKey)
	default:
		ks = append(ks, fleetAgainKey)
	}
	return append(ks, keys.Quit, keys.Help)
}
