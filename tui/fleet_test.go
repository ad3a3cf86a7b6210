package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/fleet"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// The fleet screen's value tests feed it the events fleet.Push emits (as
// its task delivers them) and read what it draws.

// fleetOnEvents is a fleet screen whose run is going: events arrive as
// its task's messages.
func fleetOnEvents(t *testing.T, w, h int) *FleetModel {
	t.Helper()
	m := NewFleet(FleetOptions{Push: fleet.Options{StateDir: t.TempDir()}})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.task = &Task{} // the run in progress: only its messages are taken
	m.runs = 1
	return m
}

// feed delivers events as the run's task does.
func (m *FleetModel) feed(events ...step.Event) {
	for _, e := range events {
		m.Update(TaskEventMsg{Task: m.task, Event: e})
	}
}

// screen is the frame as the person sees it, styles stripped.
func (m *FleetModel) screen() string {
	lines := strings.Split(ansi.Strip(m.View().Content), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func mustShow(t *testing.T, screen string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(screen, w) {
			t.Errorf("the screen lacks %q:\n%s", w, screen)
		}
	}
}

var threeNodes = fleet.Plan{Event: "plan", Inventory: "/lab/fleet.yaml", Run: "20261206T120000Z-fleet", Parallel: 4,
	Phases: [][]string{{"ctrl-1"}, {"jetson-1", "jetson-2"}},
	Nodes: []fleet.PlannedNode{
		{Name: "ctrl-1", Target: "root@10.0.0.10", Phase: 1, Role: "server", System: "/nix/store/x-ctrl", Selected: true},
		{Name: "jetson-2", Target: "root@10.0.0.21", Phase: 2, Role: "agent", System: ".#jetson", Selected: true},
		{Name: "jetson-1", Target: "root@10.0.0.20", Phase: 2, Role: "agent", System: ".#jetson", Selected: true},
	}}

func status(node string, phase int, s fleet.State, stepName string) fleet.NodeStatus {
	return fleet.NodeStatus{Event: "node", Node: node, Phase: phase, State: s, Step: stepName}
}

// A row per node in phase order, each with its phase, step, bytes and
// verdict as the run goes; a failure stays on screen with its next step
// while the other nodes go on and after the run's verdict.
func TestFleetRowsFollowTheRunAndFailuresStayWithTheirNextStep(t *testing.T) {
	m := fleetOnEvents(t, 110, 30)
	m.feed(threeNodes,
		fleet.SystemBuild{Event: "build", System: ".#jetson", Done: 3, Expected: 10, Running: 1})
	s := m.screen()
	mustShow(t, s, "fleet /lab/fleet.yaml: 3 nodes in 2 phases, at most 4 at a time", "run 20261206T120000Z-fleet",
		"build .#jetson: 3/10 derivations", "NODE", "PH", "STEP", "BYTES", "VERDICT")
	// Phase order, the inventory's phases: ctrl-1, then jetson-1 and -2 as the phase lists them.
	if a, b := strings.Index(s, "ctrl-1 "), strings.Index(s, "jetson-1 "); a < 0 || b < a || strings.Index(s, "jetson-2 ") < b {
		t.Errorf("rows are not in phase order:\n%s", s)
	}

	copying := status("ctrl-1", 1, fleet.Running, "copy")
	copying.Detail, copying.BytesDone, copying.BytesTotal = "copy 12/40 paths", 12<<20, 40<<20
	copying.At = time.Now().Add(-65 * time.Second) // it began a minute ago: its time counts from there
	m.feed(fleet.SystemReady{Event: "system", System: ".#jetson", Path: "/nix/store/y-jetson", Nodes: []string{"jetson-1", "jetson-2"}, Built: true},
		fleet.PhaseStart{Event: "phase", Phase: 1, Nodes: []string{"ctrl-1"}}, copying)
	s = m.screen()
	mustShow(t, s, "phase 1 of 2", "copy", "12.0/40.0 MiB", "1m0", "TIME", "copy 12/40 paths")
	if strings.Contains(s, "build .#jetson") {
		t.Errorf("a finished build is still shown as going:\n%s", s)
	}

	done := status("ctrl-1", 1, fleet.Done, "")
	done.BytesDone, done.BytesTotal = 40<<20, 40<<20
	failed := status("jetson-1", 2, fleet.Failed, "activate")
	failed.Cause, failed.Detail = "activation-failed", "the activation failed\nerror: unit k3s.service failed to start"
	failed.Next = "look at the unit's journal on the board (journalctl -u k3s), fix the system, then push again"
	m.feed(fleet.NodeLine{Node: "ctrl-1", Event: verify.Check{Event: "check", ID: "booted-system", Status: verify.OK}},
		fleet.NodeLine{Node: "ctrl-1", Event: verify.Check{Event: "check", ID: "failed-units", Status: verify.OK}},
		done, fleet.PhaseStart{Event: "phase", Phase: 2, Nodes: []string{"jetson-1", "jetson-2"}}, failed,
		status("jetson-2", 2, fleet.Running, "preflight"))
	s = m.screen()
	mustShow(t, s, "✓ done, 2 checks ok", "40.0 MiB", "✗ failed: activation-failed",
		"✗ jetson-1 failed at activate (activation-failed)", "the activation failed",
		"next: look at the unit's journal on the board (journalctl -u k3s)", "preflight")

	// The run ends: the verdict joins the failure, which stays.
	res := fleet.Result{Event: "result", Record: fleet.Record{Inventory: "/lab/fleet.yaml", Run: threeNodes.Run, ExitCode: 1, Outcome: "failed",
		Nodes: []fleet.NodeResult{
			{Name: "ctrl-1", Phase: 1, State: fleet.Done, SentBytes: 40 << 20, Verified: "2 ok", Seconds: 72.4},
			{Name: "jetson-1", Phase: 2, State: fleet.Failed, Step: "activate", Cause: "activation-failed", Detail: failed.Detail, Next: failed.Next},
			{Name: "jetson-2", Phase: 2, State: fleet.Skipped, Detail: "already runs /nix/store/y-jetson"},
		}}}
	m.feed(res)
	m.Update(TaskDoneMsg{Task: m.task, Result: &res})
	s = m.screen()
	mustShow(t, s, "✗ 1 done, 1 skipped", "1 failed", "1m12s", "(exit 1)", "= already on its system",
		"✗ jetson-1 failed at activate", "next: look at the unit's journal", "p push again")
	if m.Running() || m.ExitCode() != 1 {
		t.Errorf("running %v, exit code %d: the run ended with exit 1", m.Running(), m.ExitCode())
	}
}

// A run that refuses to start (a bad --only) says why and what next, and
// its exit code is the refusal's.
func TestFleetRefusalSaysWhatNext(t *testing.T) {
	m := fleetOnEvents(t, 100, 24)
	m.Update(TaskDoneMsg{Task: m.task, Err: step.Refuse("usage", "--only takes node names from the inventory, comma-separated", "--only: no node \"x\"")})
	mustShow(t, m.screen(), "✗ --only: no node \"x\"", "next: --only takes node names from the inventory")
	if m.ExitCode() != step.ExitRefused {
		t.Errorf("exit code %d, want 2", m.ExitCode())
	}
}

// Enter opens the node's run: its run record as `jetup runs show` has it
// (each step, outcome, cause, next step) and the end of its log; esc goes
// back. What the board printed reaches the screen without its escapes.
func TestFleetEnterOpensTheNodesRunRecordAndItsLog(t *testing.T) {
	m := fleetOnEvents(t, 100, 40)
	run, err := runrec.Create(m.o.Push.StateDir, runrec.Options{Kind: "fleet-node", Name: "jetson-1", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rs := run.Begin(step.Push)
	log, _ := rs.OpenLog("log")
	log.Write([]byte("== connecting to root@10.0.0.20\nboard: \x1b]52;c;cm0gLXJmIH4K\x07activating\x1b[2J the system\nerror: unit k3s.service failed to start\n"))
	log.Close()
	_ = rs.Finish(runrec.Failed, "", &step.Error{Cause: "activation-failed", What: "the activation failed", Next: "look at the journal"})
	_ = run.Close(runrec.Failed)

	failed := status("jetson-1", 2, fleet.Failed, "activate")
	failed.Cause, failed.Next, failed.Run = "activation-failed", "look at the journal", run.ID()
	failed.Detail = "the activation failed\x1b[31m in red\x1b[0m"
	m.feed(threeNodes, failed)
	if raw := m.View().Content; strings.Contains(raw, "\x1b[31m in red") {
		t.Error("the node's detail reached the terminal with its escapes")
	}
	mustShow(t, m.screen(), "the activation failed in red")
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown}) // ctrl-1, then jetson-1: the phases' order
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	raw := m.View().Content
	for _, bad := range []string{"\x1b]52", "\x1b[2J", "\x07", "\x1b[31m in red"} {
		if strings.Contains(raw, bad) {
			t.Errorf("the board's %q reached the terminal", bad)
		}
	}
	s := m.screen()
	mustShow(t, s, "jetson-1 · root@10.0.0.20 · phase 2", "✗ failed at activate (activation-failed)", "next: look at the journal",
		"run "+run.ID(), "jetup runs show "+run.ID(), "push (attempt 1): failed", "cause: activation-failed",
		"board: activating the system", "error: unit k3s.service failed to start")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	mustShow(t, m.screen(), "NODE", "✗ jetson-1 failed at activate")
}

// A node that has not started yet opens on what its run has said so far.
func TestFleetNodeWithoutARunShowsItsLines(t *testing.T) {
	m := fleetOnEvents(t, 100, 30)
	m.feed(threeNodes, status("ctrl-1", 1, fleet.Running, "connect"),
		fleet.NodeLine{Node: "ctrl-1", Event: deploy.RemoteLine{Line: "warning: \x1b[1mthe store is almost full"}})
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	s := m.screen()
	mustShow(t, s, "ctrl-1 · root@10.0.0.10 · phase 1", "No run record yet", "board: warning: the store is almost full")
	if strings.Contains(m.View().Content, "\x1b[1mthe store") {
		t.Error("the board's escape reached the terminal")
	}
}

// q while nodes are pushed asks first; any other key stays; y stops the
// run (its task cancelled and waited for) and quits.
func TestFleetQuitWhileRunningAsksFirst(t *testing.T) {
	m := NewFleet(FleetOptions{Push: fleet.Options{StateDir: t.TempDir()}})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 24})
	stopped := make(chan struct{})
	task, _ := m.sess.Start(func(ctx context.Context, _ step.Sink) (any, error) {
		<-ctx.Done()
		close(stopped)
		return nil, ctx.Err()
	})
	m.task = task
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd != nil {
		t.Fatal("q quit at once while nodes run")
	}
	mustShow(t, m.screen(), "Nodes are still being pushed. Quit and stop them? y to quit")
	m.Update(tea.KeyPressMsg{Code: 'n', Text: "n"})
	if s := m.screen(); strings.Contains(s, "Quit and stop them?") || !strings.Contains(s, "x stop the run") {
		t.Errorf("any other key stays:\n%s", s)
	}
	select {
	case <-stopped:
		t.Fatal("the run was stopped although the person stayed")
	default:
	}
	m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if cmd == nil {
		t.Fatal("y did not quit")
	}
	mustShow(t, m.screen(), "Stopping the nodes' pushes")
	msg := cmd() // returns once the run has returned
	select {
	case <-stopped:
	default:
		t.Fatal("quitting returned before the run was stopped")
	}
	if _, cmd := m.Update(msg); cmd == nil || cmd() != tea.Quit() {
		t.Error("the program was not told to quit once the run stopped")
	}
}

// A fleet of 500 nodes, 50 of them failed: one node event taken and the
// frame drawn, as the screen does for every event of a run.
func BenchmarkFleetEventAndViewOf500Nodes(b *testing.B) {
	m := NewFleet(FleetOptions{Push: fleet.Options{StateDir: b.TempDir()}})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 50})
	m.task = &Task{}
	plan := fleet.Plan{Event: "plan", Inventory: "fleet.yaml", Run: "r", Parallel: 4, Phases: [][]string{nil, nil}}
	for i := range 500 {
		name := fmt.Sprintf("node-%03d", i)
		plan.Phases[i%2] = append(plan.Phases[i%2], name)
		plan.Nodes = append(plan.Nodes, fleet.PlannedNode{Name: name, Target: "root@10.0.1.1", Phase: i%2 + 1, Selected: true})
	}
	m.feed(plan)
	for i := range 50 {
		s := status(fmt.Sprintf("node-%03d", i*10), 1, fleet.Failed, "preflight")
		s.Cause, s.Next = "wrong-arch", "build the system for aarch64-linux"
		m.feed(s)
	}
	ev := status("node-001", 1, fleet.Running, "copy")
	ev.BytesTotal = 100 << 20
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev.BytesDone = int64(i)
		m.feed(ev)
		_ = m.View()
	}
}

// A node's view opens on the end of its log (where a failure says the
// most); home goes to its run record's steps, end back to the end.
func TestFleetNodeViewOpensOnTheLogsEndAndScrolls(t *testing.T) {
	m := fleetOnEvents(t, 100, 20)
	run, err := runrec.Create(m.o.Push.StateDir, runrec.Options{Kind: "fleet-node", Name: "ctrl-1", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rs := run.Begin(step.Push)
	log, _ := rs.OpenLog("log")
	for i := range 300 {
		fmt.Fprintf(log, "board line %d\n", i)
	}
	log.Close()
	_ = rs.Finish(runrec.Failed, "", &step.Error{Cause: "activation-failed", What: "the activation failed", Next: "look at the journal"})
	failed := status("ctrl-1", 1, fleet.Failed, "activate")
	failed.Cause, failed.Next, failed.Run = "activation-failed", "look at the journal", run.ID()
	m.feed(threeNodes, failed)
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	s := m.screen()
	mustShow(t, s, "board line 299", "next: look at the journal")
	if strings.Contains(s, "push (attempt 1)") || strings.Contains(s, "board line 100\n") {
		t.Errorf("the view did not open on the log's end:\n%s", s)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyHome})
	if s := m.screen(); !strings.Contains(s, "push (attempt 1): failed") || strings.Contains(s, "board line 299") {
		t.Errorf("home:\n%s", s)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgDown})
	if s := m.screen(); strings.Contains(s, "push (attempt 1): failed") {
		t.Errorf("pgdown:\n%s", s)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnd})
	mustShow(t, m.screen(), "board line 299")
}

// Through a binary cache: this machine's copy to the cache shows as it
// goes, then its end; a node's BYTES are what it fetched from the cache,
// as it goes and in the verdict.
func TestFleetShowsTheCacheUploadAndTheBytesFetched(t *testing.T) {
	m := fleetOnEvents(t, 120, 30)
	plan := threeNodes
	plan.Cache = "http://cache:5000"
	m.feed(plan, fleet.CacheProgress{Event: "cache-progress", URL: "file:///srv/cache",
		Progress: deploy.CopyProgress{PathsDone: 120, PathsTotal: 300, BytesDone: 41 << 20, BytesTotal: 100 << 20, ETASeconds: -1}})
	mustShow(t, m.screen(), "cache file:///srv/cache: copy  41% 120/300 paths, 41.0/100.0 MiB")

	fetching := status("ctrl-1", 1, fleet.Running, "copy")
	fetching.BytesDone, fetching.BytesTotal = 3<<20, 12<<20
	m.feed(fleet.CacheUpload{Event: "cache", URL: "file:///srv/cache", Systems: []string{"/nix/store/x-ctrl"}, Paths: 300, Bytes: 100 << 20, Seconds: 4.2, Compression: "zstd"},
		fleet.PhaseStart{Event: "phase", Phase: 1, Nodes: []string{"ctrl-1"}}, fetching)
	s := m.screen()
	mustShow(t, s, "✓ cache file:///srv/cache: 1 systems' closures (300 paths, 100.0 MiB) copied in 4.2s, zstd-compressed", "3.0/12.0 MiB")
	if strings.Contains(s, "copy  41%") {
		t.Errorf("the copy to the cache is still shown as going:\n%s", s)
	}

	res := fleet.Result{Event: "result", Record: fleet.Record{Inventory: "/lab/fleet.yaml", Run: threeNodes.Run, Outcome: "success",
		Nodes: []fleet.NodeResult{{Name: "ctrl-1", Phase: 1, State: fleet.Done, FetchedBytes: 12 << 20}}}}
	m.feed(res)
	m.Update(TaskDoneMsg{Task: m.task, Result: &res})
	mustShow(t, m.screen(), "12.0 MiB")
}
