package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

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
	Runner proc.Runner
	// OutLink, when set, keeps the result as a GC root there, so the
	// installer stays in the store for the next stick (offline benches).
	OutLink string
}

// Build runs nix build FLAKE#ATTR, passes its log lines on as step.Log
// events, and finds the image with the profile's output glob.
func (b NixBuilder) Build(ctx context.Context, inst profiles.Installer, sink step.Sink) (string, error) {
	if inst.Flake == "" || inst.Attribute == "" {
		return "", step.Refuse("no-installer", "pass --image FILE, or give the profile an installer (flake and attribute)", "the profile names no installer to build")
	}
	nix, err := b.Runner.LookPath("nix")
	if err != nil {
		return "", step.Refuse("no-nix", "install Nix (`jetup doctor` says how), or pass --image FILE", "nix is not installed, so the installer cannot be built")
	}
	ref := inst.Flake + "#" + inst.Attribute
	args := []string{"--extra-experimental-features", "nix-command flakes", "build", "--json", "-L"}
	if b.OutLink != "" {
		args = append(args, "--out-link", b.OutLink)
	} else {
		args = append(args, "--no-link")
	}
	args = append(args, ref)
	sink.Emit(Stage{At: time.Now(), Stage: PhaseBuild, Message: "nix build " + ref})
	cmd := b.Runner.Command(ctx, nix, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("cannot start nix: %w", err)
	}
	var tail []string
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		sink.Emit(step.Log{At: time.Now(), Line: line})
		tail = append(tail, line)
		if len(tail) > 8 {
			tail = tail[1:]
		}
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", step.Errorf("build-failed", "read the build log above; fix the flake, or pass --image FILE",
			"nix build %s failed: %s", ref, strings.Join(tail, " | "))
	}
	var res []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res) == 0 || res[0].Outputs["out"] == "" {
		return "", step.Errorf("build-failed", "run the nix build by hand to see what it made", "nix build %s gave no output path (%q)", ref, stdout.String())
	}
	out := res[0].Outputs["out"]
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
