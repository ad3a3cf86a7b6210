package tui

import (
	"strings"
	"time"

	"github.com/jetup/jetup/fleet"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// fleetRunView is what the screen knows of the run in progress or the
// last one.
type fleetRunView struct {
	starting, stopping bool
	plan               *fleet.Plan
	builds             []fleet.SystemBuild // the builds going on, in the order they began
	systems            []fleet.SystemReady
	phase              int
	waiting            *fleet.Waiting
	upload             *fleet.CacheProgress // this machine's copy to the binary cache, while it goes
	cache              *fleet.CacheUpload   // that copy's end
	lines              []string             // the fleet's own warnings and log lines, the last few
	result             *fleet.Result
	err                error // the run refused to start
}

// maxNodeLines bounds each node's own lines kept for its view (the whole
// of them is in the node's logs).
const maxNodeLines = 400

// fleetRow is one node: a row of the table, and what its view shows
// while it has no run record yet. Every text in it came from a board or
// a tool and went through safe.Text on its way in.
type fleetRow struct {
	name, target, role, profile, system string
	phase                               int
	selected                            bool

	state                 fleet.State
	step, detail          string
	cause, next, run      string
	bytesDone, bytesTotal int64
	sent                  int64
	checksOK, checksBad   int
	verified              string
	lines                 []string
	// started is when the node began (its first running status), took
	// how long it took in all (the result's).
	started time.Time
	took    time.Duration
}

// reset forgets the last run's state of the row.
func (r *fleetRow) reset() {
	*r = fleetRow{name: r.name, target: r.target, role: r.role, profile: r.profile, system: r.system, phase: r.phase, selected: r.selected,
		state: fleet.Pending}
	if !r.selected {
		r.state = fleet.NotSelected
	}
}

// rowsFromInventory makes the rows before any run: every node pending,
// those --only leaves out not selected.
func (m *FleetModel) rowsFromInventory(inv *fleet.Inventory) {
	sel, err := inv.Select(m.o.Push.Only)
	if err != nil {
		sel = nil // the run refuses and says why
	}
	var rows []*fleetRow
	for _, ph := range inv.Phases {
		for _, name := range ph {
			n := inv.Node(name)
			if n == nil {
				continue
			}
			sys := n.Flake
			if sys == "" {
				sys = n.Closure
			}
			rows = append(rows, &fleetRow{name: safe.Text(n.Name), target: safe.Text(n.Target().String()), role: safe.Text(n.Role),
				profile: safe.Text(n.Profile), system: safe.Text(sys), phase: n.Phase, selected: sel == nil || sel[n.Name]})
		}
	}
	m.setRows(rows)
}

// rowsFromPlan makes the rows of a run's plan, in phase order.
func (m *FleetModel) rowsFromPlan(p fleet.Plan) {
	by := map[string]fleet.PlannedNode{}
	for _, n := range p.Nodes {
		by[n.Name] = n
	}
	var rows []*fleetRow
	for _, ph := range p.Phases {
		for _, name := range ph {
			n, ok := by[name]
			if !ok {
				continue
			}
			rows = append(rows, &fleetRow{name: safe.Text(n.Name), target: safe.Text(n.Target), role: safe.Text(n.Role),
				profile: safe.Text(n.Profile), system: safe.Text(n.System), phase: n.Phase, selected: n.Selected})
		}
	}
	m.setRows(rows)
}

func (m *FleetModel) setRows(rows []*fleetRow) {
	m.rows, m.byName = rows, map[string]*fleetRow{}
	for _, r := range rows {
		r.reset()
		m.byName[r.name] = r
	}
	m.cursor = min(m.cursor, max(len(rows)-1, 0))
	if m.detail != nil {
		if r := m.byName[m.detail.row.name]; r != nil {
			m.detail.row = r
		} else {
			m.detail = nil
		}
	}
}

// event takes one event of the fleet run.
func (m *FleetModel) event(e step.Event) {
	run := &m.run
	switch e := e.(type) {
	case fleet.Plan:
		run.starting, run.plan = false, &e
		m.rowsFromPlan(e)
	case fleet.SystemBuild:
		for i := range run.builds {
			if run.builds[i].System == e.System {
				run.builds[i] = e
				return
			}
		}
		run.builds = append(run.builds, e)
	case fleet.SystemReady:
		for i := range run.builds {
			if run.builds[i].System == e.System {
				run.builds = append(run.builds[:i], run.builds[i+1:]...)
				break
			}
		}
		run.systems = append(run.systems, e)
	case fleet.PhaseStart:
		run.phase, run.waiting = e.Phase, nil
	case fleet.Waiting:
		run.waiting = &e
	case fleet.CacheProgress:
		if run.cache == nil {
			run.upload = &e
		}
	case fleet.CacheUpload:
		run.upload, run.cache = nil, &e
	case fleet.NodeStatus:
		m.nodeStatus(e)
	case fleet.NodeLine:
		m.nodeLine(e)
	case fleet.Result:
		m.result(e)
	case step.Warning, step.Log:
		run.lines = appendLines(run.lines, e.Text(), 6)
	}
}

func (m *FleetModel) nodeStatus(e fleet.NodeStatus) {
	r := m.byName[e.Node]
	if r == nil {
		return
	}
	if e.State == fleet.Running && r.started.IsZero() {
		r.started = e.At
	}
	r.state, r.step, r.detail = e.State, safe.Text(e.Step), safe.Text(e.Detail)
	r.cause, r.next, r.run = safe.Text(e.Cause), safe.Text(e.Next), safe.Text(e.Run)
	if e.BytesTotal > 0 || e.BytesDone > 0 {
		r.bytesDone, r.bytesTotal = e.BytesDone, e.BytesTotal
	}
	if m.run.waiting != nil && m.run.waiting.Node == e.Node && e.State != fleet.Running {
		m.run.waiting = nil
	}
	if m.detail != nil && m.detail.row == r {
		m.detail.refresh()
	}
}

func (m *FleetModel) nodeLine(e fleet.NodeLine) {
	r := m.byName[e.Node]
	if r == nil {
		return
	}
	if c, ok := e.Event.(verify.Check); ok {
		switch c.Status {
		case verify.OK:
			r.checksOK++
		case verify.Fail:
			r.checksBad++
		}
	}
	text := e.Event.Text()
	if text == "" {
		return
	}
	r.lines = appendLines(r.lines, text, maxNodeLines)
}

// result takes the run's verdict: each node as fleet.json has it.
func (m *FleetModel) result(res fleet.Result) {
	m.run.result = &res
	m.run.waiting = nil
	for _, n := range res.Nodes {
		r := m.byName[n.Name]
		if r == nil {
			continue
		}
		r.state, r.step, r.detail = n.State, safe.Text(n.Step), safe.Text(n.Detail)
		r.cause, r.next, r.run = safe.Text(n.Cause), safe.Text(n.Next), safe.Text(n.Run)
		r.verified, r.sent = safe.Text(n.Verified), n.SentBytes
		if n.FetchedBytes > 0 {
			r.bytesDone, r.bytesTotal = n.FetchedBytes, n.FetchedBytes
		}
		r.took = time.Duration(n.Seconds * float64(time.Second))
	}
	if m.detail != nil {
		m.detail.refresh()
	}
}

// appendLines adds text's lines (made safe) to lines, keeping the last n.
func appendLines(lines []string, text string, n int) []string {
	lines = append(lines, strings.Split(safe.Text(text), "\n")...)
	if len(lines) > n {
		lines = append(lines[:0:0], lines[len(lines)-n:]...)
	}
	return lines
}
