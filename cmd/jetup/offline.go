package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
)

// offlineState is the run's offline mode (issue 20): --offline, or on by
// itself when the host has no route to the outside.
type offlineState struct {
	on   bool // every nix call offline; builds from the kits
	auto bool // turned on because the host has no default route
	told sync.Once

	resolverOnce sync.Once
	resolver     *kit.Resolver

	callsMu sync.Mutex
	calls   []nixrun.Stat
}

// decideOffline applies --offline, or looks at the routing tables when
// the flag was not given (two small file reads, no probe).
func (a *app) decideOffline(flagGiven bool) {
	a.off.on = a.offline
	if !flagGiven && kit.NoRoute() {
		a.off.on, a.off.auto = true, true
	}
}

// wireNix puts the run's Nix in offline mode: --offline and no
// substituters on every call, and every build taken from a kit (or
// refused before nix starts). It also records every nix call's time for
// the step's record.
func (a *app) wireNix(b hardware.Edges) {
	if b.Nix == nil {
		return
	}
	b.Nix.Observe = a.observeNix
	if !a.off.on {
		return
	}
	b.Nix.Offline = true
	b.Nix.Prebuilt = a.kitResolver().Prebuilt
	if a.off.auto && !a.json {
		a.off.told.Do(func() {
			fmt.Fprintln(a.stderr, "jetup: this host has no route to the outside: working offline, from the field kits (--offline=false to use the network)")
		})
	}
}

// kitResolver is the run's one Resolver (it inspects the kits once).
func (a *app) kitResolver() *kit.Resolver {
	a.off.resolverOnce.Do(func() {
		p, _ := a.profile(false)
		state, _ := a.state()
		a.off.resolver = &kit.Resolver{State: state, Nix: &nixrun.Nix{Offline: true, Observe: a.observeNix}, Profile: p}
	})
	return a.off.resolver
}

// needKit is the check a step makes before it starts, offline: its
// artifact from a kit (said on stderr), or the refusal, exit 2, before
// anything runs. Online it does nothing.
func (a *app) needKit(ctx context.Context, p *profiles.Profile, id kit.ID) error {
	if !a.off.on || p == nil {
		return nil
	}
	found, err := a.kitResolver().Need(ctx, id)
	if err != nil {
		return err
	}
	if !a.json {
		fmt.Fprintf(a.stderr, "offline: the %s comes from kit %s (%s)\n", id.Title(), found.Kit, found.Artifact.StorePath)
	}
	return nil
}

// needKitFor is needKit for an installable the person named (push
// --flake): it must be in a kit too.
func (a *app) needKitFor(ctx context.Context, installable string) error {
	if !a.off.on {
		return nil
	}
	found, err := a.kitResolver().Find(ctx, installable)
	if err != nil {
		return err
	}
	if !a.json {
		fmt.Fprintf(a.stderr, "offline: the system comes from kit %s (%s)\n", found.Kit, found.Artifact.StorePath)
	}
	return nil
}

func (a *app) observeNix(s nixrun.Stat) {
	a.off.callsMu.Lock()
	a.off.calls = append(a.off.calls, s)
	a.off.callsMu.Unlock()
}

// takeNixCalls returns the nix calls made since the last take.
func (a *app) takeNixCalls() []nixrun.Stat {
	a.off.callsMu.Lock()
	defer a.off.callsMu.Unlock()
	c := a.off.calls
	a.off.calls = nil
	return c
}

// recordNixCalls writes the step's nix calls, each with its time, to its
// record (<step>.nix-calls.log), offline: the proof that no call waited on
// the network, and where a slow step spent its time. The step has ended by
// then, so a log that cannot be written is said on notes (stderr), not
// dropped.
func recordNixCalls(rs *runrec.Step, calls []nixrun.Stat, notes io.Writer) {
	if len(calls) == 0 {
		return
	}
	log, err := rs.OpenLog("nix-calls.log")
	if err != nil {
		fmt.Fprintf(notes, "jetup: the step's nix calls were not recorded: %v\n", err)
		return
	}
	defer log.Close()
	for _, c := range calls {
		fmt.Fprintln(log, nixCallLine(c))
	}
}

// nixCallLine is "0.041s ok nix path-info --json ...", the arguments cut
// at 300 characters.
func nixCallLine(c nixrun.Stat) string {
	status := "ok"
	if c.Err != nil {
		status = "failed"
	}
	args := strings.Join(c.Args, " ")
	if len(args) > 300 {
		args = args[:300] + "…"
	}
	return fmt.Sprintf("%.3fs %s nix %s", c.Took.Seconds(), status, args)
}
