package media

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Builder produces the profile's installer image and returns its path.
type Builder interface {
	Build(ctx context.Context, inst profiles.Installer, sink step.Sink) (string, error)
}

// NixBuilder runs `nix build` on the profile's flake attribute.
type NixBuilder struct {
	// Nix is the run's Nix runner (its modes reach this build); nil runs
	// nix from PATH through Runner.
	Nix    *nixrun.Nix
	Runner proc.Runner
	// OutLink, when set, keeps the result as a GC root there, so the
	// installer stays in the store for the next stick (offline benches).
	OutLink string
	// User builds as that user: under sudo, the person who ran it
	// (proc.Invoking). Building needs no root; only opening the disk does.
	User *proc.User
}

// Build builds FLAKE#ATTR through the Nix runner, passes what nix would
// print for a person on as step.Log events and its progress as
// BuildProgress, and finds the image with the profile's output glob.
func (b NixBuilder) Build(ctx context.Context, inst profiles.Installer, sink step.Sink) (string, error) {
	if inst.Flake == "" || inst.Attribute == "" {
		return "", step.Refuse("no-installer", "pass --image FILE, or give the profile an installer (flake and attribute)", "the profile names no installer to build")
	}
	nx := b.Nix
	if nx == nil {
		nx = &nixrun.Nix{Runner: b.Runner}
	}
	ref := inst.Flake + "#" + inst.Attribute
	sink.Emit(Stage{At: time.Now(), Stage: PhaseBuild, Message: "nix build " + ref})
	out, err := nx.Build(ctx, nixrun.Build{Installable: ref, OutLink: b.OutLink, User: b.User, Log: nixrun.Watch{
		Line: func(l nixrun.Line) {
			if text, ok := l.Human(); ok {
				sink.Emit(step.Log{At: time.Now(), Line: text})
			}
		},
		Progress: func(p nixrun.Progress) {
			sink.Emit(BuildProgress{At: time.Now(), Phase: PhaseBuild, Ref: ref, Progress: p})
		},
	}})
	switch {
	case errors.Is(err, nixrun.ErrNotInstalled):
		return "", step.Refuse("no-nix", "install Nix (`jetup doctor` says how), or pass --image FILE", "nix is not installed, so the installer cannot be built")
	case ctx.Err() != nil:
		return "", ctx.Err()
	case err != nil:
		var se *step.Error
		if errors.As(err, &se) { // a PreBuild refusal says what to do itself
			return "", err
		}
		return "", step.Errorf("build-failed", "read the build log above; fix the flake, or pass --image FILE",
			"nix build %s failed: %s", ref, nixrun.ReasonOf(err))
	}
	glob := inst.Output
	if glob == "" {
		glob = "*"
	}
	matches, _ := filepath.Glob(filepath.Join(out, glob))
	if len(matches) != 1 {
		return "", step.Errorf("installer-output", "fix the profile's installer output glob",
			"%s holds %d files matching %q, want exactly one", out, len(matches), glob)
	}
	sink.Emit(Stage{At: time.Now(), Stage: PhaseBuild, Message: "built " + matches[0]})
	return matches[0], nil
}
