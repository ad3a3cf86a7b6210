package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// Edge is what a fleet run reaches: this machine's Nix and the boards
// over SSH (deploy's edge), and verify's.
type Edge struct {
	Push   deploy.Edge
	Verify verify.Edge
}

// Options for Push.
type Options struct {
	Inventory *Inventory
	// Parallel is how many nodes of a phase run at once (4 when 0).
	Parallel int
	// KeepGoing runs the later phases after a node failed.
	KeepGoing bool
	// Only selects nodes by name; empty selects all.
	Only []string
	// NoVerify skips the verification after each push.
	NoVerify bool
	// Wait bounds each wait for k3s: a server answering, nodes Ready
	// (3m when 0).
	Wait time.Duration
	// Cache is a binary cache the nodes fetch their systems from (nix copy
	// --from, on each node) after this machine copied them there once;
	// CacheTo is where this machine copies to when that is not Cache (a
	// static directory behind a web server: file:///srv/cache?secret-key=
	// ...). CacheKeys are the cache's public keys the nodes trust for
	// that copy (besides the public half of CacheTo's secret-key).
	Cache, CacheTo string
	CacheKeys      []string
	// MaxJoins is how many k3s agents activate (and join) at once
	// (MaxJoins when 0).
	MaxJoins int
	// Retries is how often a node's copy cut off by a lost link is
	// resumed (deploy.Options.Retries).
	Retries int
	// StateDir holds the run records; KnownHosts is jetup's pinned keys.
	StateDir   string
	KnownHosts string
	// Profiles are the boards jetup knows (a node's GPU, its checks).
	Profiles *profiles.Set
	// Run records: who runs it, and how.
	Version string
	Command []string
	Host    runrec.Host
	Sim     bool
	// PollEvery is the pause between two looks while waiting (2s when 0).
	PollEvery time.Duration
}

// DefaultParallel is how many nodes of a phase run at once by default.
const DefaultParallel = 4

// MaxJoins is how many k3s agents join at once: the server limits
// concurrent joins (about ten write requests in flight), agents beyond
// retry with backoff.
const MaxJoins = 10

// fleetRun is one run of the fleet.
type fleetRun struct {
	edge Edge
	o    Options
	sink step.Sink
	inv  *Inventory
	sel  map[string]bool
	prev *Record

	run  *runrec.Run
	rs   *runrec.Step
	log  *runrec.Log
	slog io.Writer // the build log (lazy)

	mu      sync.Mutex
	rec     Record
	nodes   map[string]*nodeRun
	systems map[string]string // SystemKey -> store path
	joins   chan struct{}
	stop    string // why the later phases do not run ("" while they do)
	server  *Node  // the first k3s server that answered (guarded by mu)
	token   k3sToken
	// cacheKeys are the binary cache's public keys the nodes trust.
	cacheKeys []string
	upload    *upload // this machine's copy to the cache (nil without one)
}

// Push brings the fleet up: builds each distinct system once, pushes
// phase by phase (at most Parallel nodes at once), verifies each node,
// and stops the later phases after a failure unless KeepGoing. It returns
// the run's Result (its ExitCode the truth about the nodes), or an error
// when it refused before anything started (bad options, --only naming no
// node, no state directory).
func Push(ctx context.Context, edge Edge, o Options, sink step.Sink) (*Result, error) {
	r, err := start(edge, o, sink)
	if err != nil {
		return nil, err
	}
	defer r.log.Close()
	r.runPhases(ctx)
	r.checkCluster(ctx)
	return r.finish(ctx), nil
}

func start(edge Edge, o Options, sink step.Sink) (*fleetRun, error) {
	inv := o.Inventory
	if inv == nil {
		return nil, step.Refuse("usage", "give the inventory file", "no inventory")
	}
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	if o.Parallel < 0 {
		return nil, step.Refuse("usage", "pass --parallel with a positive number", "--parallel %d", o.Parallel)
	}
	if o.Wait == 0 {
		o.Wait = 3 * time.Minute
	}
	if o.MaxJoins <= 0 {
		o.MaxJoins = MaxJoins
	}
	if o.PollEvery == 0 {
		o.PollEvery = 2 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 2
	}
	if o.StateDir == "" || o.KnownHosts == "" {
		return nil, step.Refuse("usage", "pass --state-dir", "no state directory for the run records and pinned keys")
	}
	var keys []string
	if o.Cache != "" || o.CacheTo != "" {
		if o.Cache == "" {
			return nil, step.Refuse("usage", "pass --cache URL, the cache as the nodes reach it", "--cache-to without --cache")
		}
		if err := checkCacheURL("--cache", o.Cache); err != nil {
			return nil, err
		}
		if err := checkCacheURL("--cache-to", o.CacheTo); err != nil {
			return nil, err
		}
		to := o.CacheTo
		if to == "" {
			to = o.Cache
		}
		var err error
		if keys, err = cacheKeys(o.CacheKeys, to); err != nil {
			return nil, err
		}
	}
	sel, err := inv.Select(o.Only)
	if err != nil {
		return nil, step.Refuse("usage", "--only takes node names from the inventory, comma-separated", "--only: %v", err)
	}
	r := &fleetRun{edge: edge, o: o, inv: inv, sel: sel, cacheKeys: keys, nodes: map[string]*nodeRun{}, systems: map[string]string{},
		joins: make(chan struct{}, o.MaxJoins), prev: lastRecord(o.StateDir, inv.File)}
	run, err := runrec.Create(o.StateDir, runrec.Options{Kind: "fleet", Name: runName(inv.File), Version: o.Version,
		Command: o.Command, Host: o.Host, Sim: o.Sim})
	if err != nil {
		return nil, step.Refuse("state-dir", "pass --state-dir with a writable directory", "%v", err)
	}
	r.run, r.rs = run, run.Begin(step.Fleet)
	r.log, _ = r.rs.OpenLog("log") // without it the fleet goes on: Tee says so
	r.slog = r.rs.LazyLog("build.log")
	r.sink = r.log.Tee(sink)
	r.rec = Record{Inventory: inv.File, Run: run.ID(), Started: time.Now().UTC(), Outcome: "running", Phases: inv.Phases,
		Options: RecordOptions{Parallel: o.Parallel, KeepGoing: o.KeepGoing, Only: o.Only, NoVerify: o.NoVerify, Cache: shownURL(o.Cache)}}
	if r.prev != nil {
		r.rec.Previous = r.prev.Run
	}
	plan := Plan{Event: "plan", At: time.Now(), Inventory: inv.File, Run: run.ID(), Phases: inv.Phases, Parallel: o.Parallel, Cache: shownURL(o.Cache)}
	for _, n := range inv.Nodes {
		nr := &nodeRun{f: r, n: n, res: NodeResult{Name: n.Name, Phase: n.Phase, Target: n.Target().String(), Role: n.Role, State: Pending,
			Previous: r.prev.pushedIn(n.Name)}}
		if !sel[n.Name] {
			nr.res.State = NotSelected
		}
		r.nodes[n.Name] = nr
		r.rec.Nodes = append(r.rec.Nodes, nr.res)
		plan.Nodes = append(plan.Nodes, PlannedNode{Name: n.Name, Target: n.Target().String(), Phase: n.Phase, Role: n.Role,
			Profile: n.Profile, System: n.systemText(), Selected: sel[n.Name]})
	}
	r.save()
	r.sink.Emit(plan)
	return r, nil
}

// runName is the inventory's file name as a run name part.
func runName(file string) string {
	base := file
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	var b strings.Builder
	for _, c := range base {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteRune(c)
		}
		if b.Len() >= 40 {
			break
		}
	}
	if name := b.String(); name != "" && name != "fleet" {
		return "fleet-" + name
	}
	return "fleet"
}

// systemText is the system as the inventory names it.
func (n *Node) systemText() string {
	if n.Flake != "" {
		return n.Flake
	}
	return n.Closure
}

// runPhases builds the systems, then runs the phases in order.
func (r *fleetRun) runPhases(ctx context.Context) {
	if !r.build(ctx) && !r.o.KeepGoing {
		r.stopAll("a system did not build")
		return
	}
	// The copy to the cache runs while the first phase's nodes are reached
	// and checked; each waits for it right before its fetch.
	r.upload = r.startUpload(ctx)
	defer r.upload.wait() // Push returns with no copy running
	for i, phase := range r.inv.Phases {
		if ctx.Err() != nil {
			r.stopAll("stopped")
			return
		}
		if err := r.upload.failed(); err != nil {
			r.failPending(err)
			r.stopAll("the systems are not in the binary cache")
			return
		}
		if r.stop != "" {
			r.notRun(phase, r.stop)
			continue
		}
		var todo []*nodeRun
		for _, name := range phase {
			if nr := r.nodes[name]; nr.state() == Pending {
				todo = append(todo, nr)
			}
		}
		if len(todo) > 0 {
			r.sink.Emit(PhaseStart{Event: "phase", At: time.Now(), Phase: i + 1, Nodes: names(todo)})
			r.runAll(ctx, todo)
		}
		r.gate(ctx, phase)
		var failed []string
		for _, name := range phase {
			if r.nodes[name].state() == Failed {
				failed = append(failed, name)
			}
		}
		if len(failed) > 0 && !r.o.KeepGoing {
			r.stop = fmt.Sprintf("phase %d failed (%s); --keep-going pushes the later phases anyway", i+1, strings.Join(failed, ", "))
		}
	}
}

func names(nrs []*nodeRun) []string {
	out := make([]string, len(nrs))
	for i, nr := range nrs {
		out[i] = nr.n.Name
	}
	return out
}

// runAll runs the nodes, at most Parallel at once.
func (r *fleetRun) runAll(ctx context.Context, todo []*nodeRun) {
	sem := make(chan struct{}, r.o.Parallel)
	var wg sync.WaitGroup
	for _, nr := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				nr.fail("push", &step.Error{Cause: "cancelled", What: "stopped before its turn", Err: ctx.Err(), Next: "run the fleet again"})
				return
			}
			defer func() { <-sem }()
			nr.push(ctx)
		}()
	}
	wg.Wait()
}

// notRun marks the pending selected nodes of a phase as not run.
func (r *fleetRun) notRun(phase []string, why string) {
	for _, name := range phase {
		nr := r.nodes[name]
		if nr.state() == Pending {
			nr.set(func(res *NodeResult) {
				res.State, res.Cause, res.Detail = NotRun, "not-run", "not pushed: "+why
				res.Next = "fix what failed, then run the fleet again: it continues where this run stopped"
			})
		}
	}
}

// failPending fails every node still waiting for its turn with err (a
// copy to the cache that failed: none of them could fetch).
func (r *fleetRun) failPending(err error) {
	for _, ph := range r.inv.Phases {
		for _, name := range ph {
			if nr := r.nodes[name]; nr.state() == Pending {
				nr.fail("cache", err)
			}
		}
	}
}

func (r *fleetRun) stopAll(why string) {
	r.stop = why
	for _, ph := range r.inv.Phases {
		r.notRun(ph, why)
	}
}

// save writes fleet.json (the caller may hold no lock).
func (r *fleetRun) save() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saveLocked()
}

func (r *fleetRun) saveLocked() {
	for i := range r.rec.Nodes {
		if nr := r.nodes[r.rec.Nodes[i].Name]; nr != nil {
			r.rec.Nodes[i] = nr.res
		}
	}
	if err := r.rec.save(r.run.Dir()); err != nil {
		fmt.Fprintf(r.log, "warning: %s not written: %v\n", RecordFile, err)
	}
}

// finish records the outcome and emits the result.
func (r *fleetRun) finish(ctx context.Context) *Result {
	r.mu.Lock()
	end := time.Now().UTC()
	r.rec.Ended = &end
	var sent int64
	for _, nr := range r.nodes {
		sent += nr.res.SentBytes
	}
	r.rec.SentBytes = sent
	r.saveLocked()
	r.rec.ExitCode = r.rec.exitCode()
	outcome := runrec.Success
	switch {
	case ctx.Err() != nil:
		outcome = runrec.Cancelled
		if r.rec.ExitCode == 0 {
			r.rec.ExitCode = 1
		}
	case r.rec.ExitCode == 2:
		outcome = runrec.Refused
	case r.rec.ExitCode != 0:
		outcome = runrec.Failed
	}
	r.rec.Outcome = string(outcome)
	r.saveLocked()
	res := &Result{Event: "result", Record: r.rec}
	res.Nodes = append([]NodeResult(nil), r.rec.Nodes...)
	r.mu.Unlock()
	_ = r.rs.SetDetails(res)
	var err error
	if outcome != runrec.Success {
		err = &step.Error{Cause: "fleet-" + string(outcome), Code: res.ExitCode, What: res.Text(), Next: firstNext(res)}
	}
	_ = r.rs.Finish(outcome, res.Text(), err)
	_ = r.run.Close(outcome)
	r.sink.Emit(*res)
	return res
}

// firstNext is the next step of the first failed node.
func firstNext(res *Result) string {
	for _, n := range res.Nodes {
		if n.State == Failed && n.Next != "" {
			return n.Name + ": " + n.Next
		}
	}
	if res.Cluster != nil && !res.Cluster.OK() {
		return res.Cluster.Next
	}
	return "see fleet.json in the fleet's run record"
}

// Dir is where the fleet run's record is (fleet.json).
func (res *Result) Dir(stateDir string) string { return stateDir + "/runs/" + res.Run }

// sortedSystems are the distinct systems of the selected nodes, in the
// order the nodes come.
func (r *fleetRun) sortedSystems() (keys []string, by map[string][]*Node) {
	by = map[string][]*Node{}
	for _, n := range r.inv.Nodes {
		if !r.sel[n.Name] {
			continue
		}
		k := n.SystemKey()
		if _, seen := by[k]; !seen {
			keys = append(keys, k)
		}
		by[k] = append(by[k], n)
	}
	return keys, by
}

// refused reports whether err stopped a push before it sent or changed
// anything (a refusal: exit code 2).
func refused(err error) bool {
	var se *step.Error
	return errors.As(err, &se) && se.ExitCode() == step.ExitRefused
}

var _ = sort.Strings
