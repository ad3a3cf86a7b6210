package flash

import (
	"context"
	"errors"
	"io"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// BuildOptions say what to build.
type BuildOptions struct {
	Ref string // "github:anduril/jetpack-nixos#flash-orin-nano-super-devkit"
	// OutLink keeps the result as a GC root between the build and the
	// flash; "" builds with --no-link.
	OutLink string
	// Nix runs nix (the run's shared one, with its modes); nil is nix
	// from PATH through Runner.
	Nix    *nixrun.Nix
	Runner proc.Runner
	// Log receives nix's raw stderr.
	Log io.Writer
}

// Build runs nix build REF through the one Nix runner (--print-out-paths,
// or --json on Nix < 2.9; --log-format internal-json), reporting progress
// as BuildEvents, and returns the output path.
func Build(ctx context.Context, o BuildOptions, sink step.Sink) (string, error) {
	nx := o.Nix
	if nx == nil {
		nx = &nixrun.Nix{Runner: o.Runner}
	}
	progress := func(p nixrun.Progress) {
		sink.Emit(BuildEvent{Event: "build", At: now(), Ref: o.Ref, Progress: p})
	}
	path, err := nx.Build(ctx, nixrun.Build{Installable: o.Ref, OutLink: o.OutLink,
		Log: nixrun.Watch{Raw: o.Log, Progress: progress}})
	switch {
	case errors.Is(err, nixrun.ErrNotInstalled):
		return "", step.Errorf("no-nix", "install Nix (https://nixos.org/download) or pass --script with a flash script built elsewhere",
			"nix is not installed, so the flash script cannot be built")
	case ctx.Err() != nil:
		return "", ctx.Err()
	case err != nil:
		var se *step.Error
		if errors.As(err, &se) { // a PreBuild refusal says what to do itself
			return "", err
		}
		return "", step.Errorf("build-failed", "read nix's error above; fix the flake or pass --flake/--script, then flash again",
			"nix build %s failed: %s", o.Ref, nixrun.ReasonOf(err))
	}
	return path, nil
}
