package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/nixrun"
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

// build builds --flake, reporting progress from the Nix runner's tracker
// (derivations built, running and expected, paths fetched) with the
// derivation being built as Current.
func (p *pusher) build(ctx context.Context) (string, error) {
	inst, err := FlakeInstallable(p.o.Flake)
	if err != nil {
		return "", step.Refuse(string(CauseUsage), "pass --flake REF#NAME, NAME being one of the flake's nixosConfigurations", "%v", err)
	}
	p.phase(PhaseBuild, "building %s", inst)
	var current string
	lg := nixrun.NewLog(nixrun.Watch{Raw: p.log, Every: p.o.ProgressEvery,
		Line: func(l nixrun.Line) {
			if l.JSON && l.Action == "start" && l.Type == nixrun.ActBuild {
				current = shortPath(strings.TrimSuffix(l.Str(0), ".drv"))
			}
		},
		Progress: func(b nixrun.Progress) {
			p.sink.Emit(BuildProgress{Event: "build", At: time.Now(), Done: b.Built, Expected: b.Total,
				Running: b.Running, Fetched: b.Downloaded, Current: current})
		}})
	path, err := p.edge.Nix.Build(ctx, inst, lg)
	lg.Close()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		var se *step.Error
		if errors.As(err, &se) { // a PreBuild refusal says what to do itself
			return "", err
		}
		return "", &step.Error{Cause: string(CauseBuildFailed), Err: err, What: "nix build " + inst + " failed",
			Next: "fix the error it printed (the push log has the whole output), or build by hand: nix build " + inst}
	}
	return path, nil
}
