package fleet

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// nodeRun is one node's part of the fleet run: its own run record (push,
// then verify, each with its log), its state in fleet.json and on the
// fleet screen.
type nodeRun struct {
	f   *fleetRun
	n   *Node
	res NodeResult // guarded by f.mu

	bytesDone, bytesTotal int64 // the copy's, guarded by f.mu
	lastBytes             time.Time
}

func (nr *nodeRun) step() string {
	nr.f.mu.Lock()
	defer nr.f.mu.Unlock()
	return nr.res.Step
}

func (nr *nodeRun) state() State {
	nr.f.mu.Lock()
	defer nr.f.mu.Unlock()
	return nr.res.State
}

// set changes the node's result, writes fleet.json and says so.
func (nr *nodeRun) set(change func(*NodeResult)) {
	f := nr.f
	f.mu.Lock()
	change(&nr.res)
	f.saveLocked()
	ev := nr.status()
	f.mu.Unlock()
	f.sink.Emit(ev)
}

// status is the node's row. Called with f.mu held.
func (nr *nodeRun) status() NodeStatus {
	r := nr.res
	return NodeStatus{Event: "node", At: time.Now(), Node: r.Name, Phase: r.Phase, State: r.State, Step: r.Step, Detail: r.Detail,
		BytesDone: nr.bytesDone, BytesTotal: nr.bytesTotal, Cause: r.Cause, Next: r.Next, Run: r.Run}
}

// fail ends the node with err at step.
func (nr *nodeRun) fail(at string, err error) {
	var se *step.Error
	cause, next := "failed", step.NextOf(err)
	if ok := asStepError(err, &se); ok && se.Cause != "" {
		cause = se.Cause
	}
	if err == context.Canceled || err == context.DeadlineExceeded {
		cause, next = "cancelled", "run the fleet again: it continues where this run stopped"
	}
	nr.set(func(res *NodeResult) {
		res.State, res.Step, res.Cause, res.Next = Failed, at, cause, next
		res.Detail = firstLines(err.Error(), 6)
		res.Refused = refused(err)
	})
}

func asStepError(err error, se **step.Error) bool {
	for e := err; e != nil; {
		if s, ok := e.(*step.Error); ok {
			*se = s
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// firstLines is at most n lines of s.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

// push runs the node: its run record, the push, the verification.
func (nr *nodeRun) push(ctx context.Context) {
	f, n := nr.f, nr.n
	start := time.Now()
	defer func() {
		nr.f.mu.Lock()
		nr.res.Seconds = time.Since(start).Seconds()
		nr.f.mu.Unlock()
	}()
	run, err := runrec.Create(f.o.StateDir, runrec.Options{Kind: "fleet-node", Profile: n.Profile, Name: n.Name, Version: f.o.Version,
		Command: f.o.Command, Host: f.o.Host, Sim: f.o.Sim})
	if err != nil {
		nr.fail("push", step.Errorf("state-dir", "check the state directory (--state-dir)", "no run record for %s: %v", n.Name, err))
		return
	}
	outcome := runrec.Failed
	defer func() { _ = run.Close(outcome) }()
	_ = run.SetFact("fleet_run", f.run.ID())
	_ = run.SetFact("fleet_node", n.Name)
	_ = run.SetFact(step.FactIP, n.Host)
	nr.set(func(res *NodeResult) { res.State, res.Run, res.Step, res.Detail = Running, run.ID(), "connect", "" })

	res, err := nr.deployPush(ctx, run)
	if err != nil {
		nr.fail(nr.step(), err)
		return
	}
	_ = run.SetFact(step.FactHostKey, res.Fingerprint)
	if res.BoardName != "" {
		_ = run.SetFact(step.FactHostname, res.BoardName)
	}
	pushed := Done
	detail := res.Text()
	if res.Current {
		pushed = Skipped
		if p := f.prev.pushedIn(n.Name); p != "" {
			detail += " (pushed in fleet run " + p + ")"
		}
	}
	nr.set(func(r *NodeResult) {
		r.Fingerprint, r.Hostname, r.SentBytes, r.Detail = res.Fingerprint, res.BoardName, res.SentBytes, detail
		r.FetchedBytes = res.FetchedBytes
	})
	if f.o.NoVerify {
		outcome = runrec.Success
		nr.set(func(r *NodeResult) { r.State, r.Step, r.Detail = pushed, "", detail })
		return
	}
	vres, err := nr.verify(ctx, run, res.System)
	switch {
	case err != nil:
		nr.fail("verify", err)
	case vres.ExitCode() != 0:
		first := vres.Checks[0]
		for _, c := range vres.Checks {
			if c.Status == verify.Fail {
				first = c
				break
			}
		}
		nr.set(func(r *NodeResult) {
			r.State, r.Step, r.Cause, r.Verified = Failed, "verify", "verify-failed", vres.Text()
			r.Detail = vres.Text() + "\n" + first.Title + ": " + firstLines(first.Detail, 3)
			r.Next = first.Next
		})
	default:
		outcome = runrec.Success
		nr.set(func(r *NodeResult) { r.State, r.Step, r.Detail, r.Verified = pushed, "", detail, vres.Text() })
	}
}

// deployPush is the push step of the node's run record.
func (nr *nodeRun) deployPush(ctx context.Context, run *runrec.Run) (*deploy.Result, error) {
	f, n := nr.f, nr.n
	rs := run.Begin(step.Push)
	log, _ := rs.OpenLog("log")
	defer log.Close()
	o := deploy.Options{Target: n.Target(), Closure: f.systems[n.SystemKey()], Mode: n.Mode,
		Trust: remote.Trust{KnownHosts: f.o.KnownHosts, AcceptHostKey: n.HostKey}, Retries: f.o.Retries, Log: log,
		SkipIfCurrent: nr.maySkip(), BeforeActivate: nr.beforeActivate}
	if f.o.Cache != "" {
		o.Cache = &deploy.Cache{URL: f.o.Cache, Keys: f.cacheKeys, Ready: f.upload.done, Uploaded: f.upload.wait}
	}
	res, err := deploy.Push(ctx, f.edge.Push, o, log.Tee(nr.sink()))
	if err != nil {
		_ = rs.Finish(runrec.OutcomeOf(err), "", err)
		return nil, err
	}
	_ = rs.SetDetails(res)
	_ = rs.Finish(runrec.Success, res.Text(), nil)
	return res, nil
}

// maySkip: a node is left alone when it already runs its system, unless
// the last run of this fleet recorded it failed there (its activation may
// have stopped half-way: it is activated again).
func (nr *nodeRun) maySkip() bool {
	p := nr.f.prev.node(nr.n.Name)
	return p == nil || p.State != Failed && p.State != Running && p.State != Pending
}

// sink takes the node's own events: each goes to the fleet as a NodeLine,
// and those that move the node on change its row.
func (nr *nodeRun) sink() step.Sink {
	return step.SinkFunc(func(e step.Event) {
		f := nr.f
		if _, progress := e.(deploy.CopyProgress); !progress { // the node's row carries the bytes
			f.sink.Emit(NodeLine{Node: nr.n.Name, Event: e})
		}
		switch e := e.(type) {
		case deploy.PhaseEvent:
			nr.set(func(r *NodeResult) { r.Step, r.Detail = string(e.Phase), e.What })
		case deploy.Delta:
			f.mu.Lock()
			nr.bytesDone, nr.bytesTotal = 0, e.SendBytes
			f.mu.Unlock()
		case deploy.CopyProgress:
			f.mu.Lock()
			nr.bytesDone, nr.bytesTotal = e.BytesDone, e.BytesTotal
			due := time.Since(nr.lastBytes) >= 500*time.Millisecond || e.PathsDone == e.PathsTotal
			var ev NodeStatus
			if due {
				nr.lastBytes = time.Now()
				ev = nr.status()
				ev.Detail = e.Text()
			}
			f.mu.Unlock()
			if due {
				f.sink.Emit(ev)
			}
		case verify.Plan:
			nr.set(func(r *NodeResult) { r.Step, r.Detail = "verify", e.Text() })
		}
	})
}

// verify is the verify step of the node's run record: the Verify step's
// checks where the node's profile has it, else the booted system and the
// failed units.
func (nr *nodeRun) verify(ctx context.Context, run *runrec.Run, system string) (*verify.Result, error) {
	f, n := nr.f, nr.n
	nr.set(func(r *NodeResult) { r.Step, r.Detail = "verify", "" })
	rs := run.Begin(step.Verify)
	log, _ := rs.OpenLog("log")
	defer log.Close()
	o := verify.Options{Target: n.Target(), Trust: remote.Trust{KnownHosts: f.o.KnownHosts}, Closure: system, StateDir: f.o.StateDir,
		Wait: f.o.Wait, Log: log, PollEvery: f.o.PollEvery}
	var p *profiles.Profile
	if f.o.Profiles != nil && n.Profile != "" {
		p, _ = f.o.Profiles.Get(n.Profile)
	}
	if p != nil && hasStep(p, step.Verify) {
		jetson := p.Family == profiles.Jetson
		o.Jetson = &jetson
		if vf := p.Verify; vf != nil {
			o.GPU = []verify.GPUSet{{SoC: vf.SoC, Family: vf.GPU, Driver: vf.GPUDriver, Devices: vf.GPUDevices}}
			o.ProfileCUDASample = vf.CUDASample
		}
		if n.Role == RoleAgent {
			o.K3sServer = f.serverAddr()
		}
	} else {
		o.Only = []string{verify.BootedSystem, verify.FailedUnits}
	}
	res, err := verify.Run(ctx, f.edge.Verify, o, log.Tee(nr.sink()))
	if res != nil {
		_ = rs.SetDetails(res)
	}
	switch {
	case err != nil:
		_ = rs.Finish(runrec.OutcomeOf(err), "", err)
		return nil, err
	case res.ExitCode() != 0:
		_ = rs.Finish(runrec.Failed, res.Text(), nil)
	default:
		_ = rs.Finish(runrec.Success, res.Text(), nil)
	}
	return res, nil
}

func hasStep(p *profiles.Profile, id step.ID) bool {
	for _, s := range p.Steps {
		if s == id {
			return true
		}
	}
	return false
}

// serverAddr is the first k3s server's address as verify's --k3s-server
// takes it (host, or host:port off port 22).
func (r *fleetRun) serverAddr() string {
	for _, n := range r.inv.Nodes {
		if n.Role == RoleServer {
			if n.Target().PortOr22() != 22 {
				return net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
			}
			return n.Host
		}
	}
	return ""
}

var _ = fmt.Sprint
