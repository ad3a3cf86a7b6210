package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/step"
)

// build builds each distinct system of the selected nodes once (a flake
// installable with nix build, progress shown; a closure is already in the
// store), before anything is sent. It reports false when one failed: its
// nodes are failed, the others wait.
func (r *fleetRun) build(ctx context.Context) bool {
	keys, by := r.sortedSystems()
	ok := true
	for _, k := range keys {
		nodes := by[k]
		first := nodes[0]
		names := make([]string, len(nodes))
		for i, n := range nodes {
			names[i] = n.Name
		}
		ev := SystemReady{Event: "system", System: first.systemText(), Nodes: names}
		start := time.Now()
		path, err := first.Closure, error(nil)
		if first.Flake != "" {
			ev.Built = true
			for _, n := range nodes {
				r.nodes[n.Name].set(func(res *NodeResult) { res.Step, res.Detail = "build", "its system is being built" })
			}
			path, err = r.buildFlake(ctx, first.Flake, buildSystem(nodes))
		}
		ev.At, ev.Seconds, ev.Path = time.Now(), time.Since(start).Seconds(), path
		sr := SystemRecord{System: ev.System, Path: path, Nodes: names}
		if err != nil {
			ok = false
			ev.Error, sr.Error = errText(err), errText(err)
			for _, n := range nodes {
				r.nodes[n.Name].fail("build", err)
			}
		} else {
			r.systems[k] = path
			for _, n := range nodes {
				r.nodes[n.Name].set(func(res *NodeResult) { res.System, res.Step, res.Detail = path, "", "" })
			}
		}
		r.mu.Lock()
		r.rec.Systems = append(r.rec.Systems, sr)
		r.saveLocked()
		r.mu.Unlock()
		r.sink.Emit(ev)
		if ctx.Err() != nil {
			return false
		}
	}
	return ok
}

// buildFlake builds REF#NAME as deploy does (a bare NAME is a
// nixosConfigurations toplevel), its log in the fleet's build log and its
// progress as SystemBuild events.
func (r *fleetRun) buildFlake(ctx context.Context, ref, system string) (string, error) {
	inst, err := deploy.FlakeInstallable(ref)
	if err != nil {
		return "", step.Refuse("usage", "give system: FLAKE#NAME", "%v", err)
	}
	var current string
	fmt.Fprintf(r.slog, "== nix build %s\n", inst)
	lg := nixrun.NewLog(nixrun.Watch{Raw: r.slog, Every: 500 * time.Millisecond,
		Line: func(l nixrun.Line) {
			if l.JSON && l.Action == "start" && l.Type == nixrun.ActBuild {
				current = strings.TrimSuffix(l.Str(0), ".drv")
				if i := strings.IndexByte(current, '-'); i > 0 && strings.HasPrefix(current, "/nix/store/") {
					current = current[i+1:]
				}
			}
		},
		Progress: func(p nixrun.Progress) {
			r.sink.Emit(SystemBuild{Event: "build", At: time.Now(), System: ref, Done: p.Built, Expected: p.Total,
				Running: p.Running, Fetched: p.Downloaded, Current: current})
		}})
	var path string
	if nx, ok := r.edge.Push.Nix.(systemBuilder); ok {
		path, err = nx.BuildFor(ctx, inst, system, lg)
	} else {
		path, err = r.edge.Push.Nix.Build(ctx, inst, lg)
	}
	lg.Close()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		var se *step.Error
		if errors.As(err, &se) {
			return "", err
		}
		return "", &step.Error{Cause: string(deploy.CauseBuildFailed), Err: err, What: "nix build " + inst + " failed: " + nixrun.ReasonOf(err),
			Next: "fix the error it printed (fleet.build.log in the fleet's run record has it whole), or build by hand: nix build " + inst}
	}
	return path, nil
}

// systemBuilder is a Nix that builds for a system named by the caller
// (deploy.NixCLI): the Nix runner's aarch64 preflight then refuses only
// what is a board's system.
type systemBuilder interface {
	BuildFor(ctx context.Context, installable, system string, log io.Writer) (string, error)
}

// buildSystem is the platform of a distinct system as the inventory tells
// it without evaluating: a node with a profile is a board (every board
// jetup knows is aarch64-linux); a plain host (an x86_64 k3s server) is
// left to nix ("").
func buildSystem(nodes []*Node) string {
	for _, n := range nodes {
		if n.Profile != "" {
			return "aarch64-linux"
		}
	}
	return ""
}

// errText is an error's words, with its next step when it has one.
func errText(err error) string {
	return err.Error()
}
