package deploy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// FlakeInstallable expands REF#NAME the way nixos-rebuild --flake does:
// a bare NAME is nixosConfigurations.NAME's toplevel; an attribute path
// with dots is used as given.
func FlakeInstallable(ref string) (string, error) {
	flake, name, ok := strings.Cut(ref, "#")
	if !ok || flake == "" || name == "" {
		return "", fmt.Errorf("--flake %q: expected REF#NAME, for example .#jetson or github:me/boards#lab-3", ref)
	}
	if strings.Contains(name, ".") {
		return ref, nil
	}
	return flake + "#nixosConfigurations." + name + ".config.system.build.toplevel", nil
}

// buildTracker follows `nix build`'s internal-json: the builds activity's
// progress, and substitutions finished.
type buildTracker struct {
	builds  uint64 // id of the actBuilds activity
	subst   map[uint64]bool
	ev      BuildProgress
	changed bool
}

func (b *buildTracker) feed(l NixLine) {
	if !l.JSON {
		return
	}
	switch l.Action {
	case "start":
		switch l.Type {
		case actBuilds:
			b.builds = l.ID
		case actBuild:
			b.ev.Current = shortPath(strings.TrimSuffix(l.Str(0), ".drv"))
			b.changed = true
		case actSubst:
			b.subst[l.ID] = true
		}
	case "stop":
		if b.subst[l.ID] {
			delete(b.subst, l.ID)
			b.ev.Fetched++
			b.changed = true
		}
	case "result":
		if l.Type == resProgress && l.ID == b.builds && b.builds != 0 {
			b.ev.Done, b.ev.Expected, b.ev.Running = int(l.Int(0)), int(l.Int(1)), int(l.Int(2))
			b.changed = true
		}
	}
}

// build builds --flake, reporting progress.
func (p *pusher) build(ctx context.Context) (string, error) {
	inst, err := FlakeInstallable(p.o.Flake)
	if err != nil {
		return "", step.Refuse("usage", "pass --flake REF#NAME, NAME being one of the flake's nixosConfigurations", "%v", err)
	}
	p.phase(PhaseBuild, "building %s", inst)
	bt := &buildTracker{subst: map[uint64]bool{}}
	var mu sync.Mutex
	last := time.Time{}
	lw := proc.NewLineWriter(func(line string) {
		fmt.Fprintln(p.log, line)
		mu.Lock()
		defer mu.Unlock()
		bt.feed(ParseNixLine(line))
		if now := time.Now(); bt.changed && now.Sub(last) >= p.o.ProgressEvery {
			bt.changed, last = false, now
			ev := bt.ev
			ev.Event, ev.At = "build", now
			p.sink.Emit(ev)
		}
	})
	path, err := p.edge.Nix.Build(ctx, inst, lw)
	lw.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &step.Error{Cause: "build-failed", Err: err, What: "nix build " + inst + " failed",
			Next: "fix the error it printed (the push log has the whole output), or build by hand: nix build " + inst}
	}
	return path, nil
}
