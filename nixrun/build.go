package nixrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Build is one `nix build` of one installable.
type Build struct {
	// Installable is a flake output: "github:anduril/jetpack-nixos#flash-…".
	Installable string
	// OutLink keeps the result as a GC root there; "" builds with
	// --no-link.
	OutLink string
	// Args are more flags for nix build ("-v").
	Args []string
	// Log is what to do with nix's log; Progress gets build progress.
	Log Watch
	// User runs this build as that user (nil: the Nix's User): the
	// installer under sudo is built as the person who ran it.
	User *User
	// System is the platform the output is for, when the caller knows it
	// without evaluating anything (a board's system is aarch64-linux), so
	// PreBuild can tell whether this host can build it at all.
	System string
}

// oldNix remembers, per nix binary, that it has no --print-out-paths, so
// only the first build of a run pays for the refused try.
var oldNix sync.Map

// Build runs `nix build --log-format internal-json` and returns the
// output path ("out", or the only output). It asks for --print-out-paths;
// a Nix older than 2.9 refuses that flag ("unrecognised flag"), and the
// build is run again with --json, whose stdout names the outputs. The
// log's final Progress (Done when the build succeeded) comes at the end.
func (n *Nix) Build(ctx context.Context, b Build) (string, error) {
	nix, err := n.LookPath()
	if err != nil {
		return "", err
	}
	if kit := n.get().Prebuilt; kit != nil {
		path, err := kit(ctx, b)
		if err != nil {
			return "", err
		}
		if path != "" {
			return n.prebuilt(ctx, b, path)
		}
	}
	if pre := n.get().PreBuild; pre != nil {
		if err := pre(ctx, b); err != nil {
			return "", err
		}
	}
	lg := NewLog(b.Log)
	_, old := oldNix.Load(nix)
	out, err := n.build(ctx, b, lg, old)
	if !old && refusedPrintOutPaths(err) {
		oldNix.Store(nix, true)
		lg.resetErrors()
		out, err = n.build(ctx, b, lg, true)
	}
	lg.Done(err == nil)
	if err != nil {
		return "", err
	}
	path := OutPath(out)
	if path == "" {
		return "", &Error{Args: []string{"build", b.Installable}, Err: errors.New("no output path"),
			Messages: []string{fmt.Sprintf("nix build %s printed no output path (%.200q)", b.Installable, out)}}
	}
	return path, nil
}

// prebuilt stands path for the build: nothing is built, so PreBuild is
// not asked. A store path is its own installable: nix checks it is valid
// and makes the out-link, evaluating nothing and asking no cache; its
// output is the path itself, so no --print-out-paths either.
func (n *Nix) prebuilt(ctx context.Context, b Build, path string) (string, error) {
	lg := NewLog(b.Log)
	args := []string{"build", path, "--log-format", "internal-json"}
	if b.OutLink != "" {
		args = append(args, "--out-link", b.OutLink)
	} else {
		args = append(args, "--no-link")
	}
	_, err := n.run(ctx, Call{Args: args, User: b.User, Local: true}, lg)
	lg.Done(err == nil)
	if err != nil {
		return "", err
	}
	return path, nil
}

func (n *Nix) build(ctx context.Context, b Build, lg *Log, asJSON bool) (string, error) {
	args := []string{"build", b.Installable, "--log-format", "internal-json"}
	if asJSON {
		args = append(args, "--json")
	} else {
		args = append(args, "--print-out-paths")
	}
	if b.OutLink != "" {
		args = append(args, "--out-link", b.OutLink)
	} else {
		args = append(args, "--no-link")
	}
	out, err := n.run(ctx, Call{Args: append(args, b.Args...), User: b.User}, lg)
	return string(out), err
}

// refusedPrintOutPaths: Nix 2.8 prints "error: unrecognised flag
// '--print-out-paths'" as a plain line before its logger starts.
func refusedPrintOutPaths(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, m := range e.Messages {
		if strings.Contains(m, "unrecognised flag '--print-out-paths'") {
			return true
		}
	}
	return false
}

// OutPath reads --print-out-paths (one path per line) or --json output
// (`[{"drvPath":…,"outputs":{"out":…}}]`): the "out" output, else the
// only one; a store path built as itself is `[{"path":…}]` (Nix 2.8).
func OutPath(out string) string {
	out = strings.TrimSpace(out)
	if strings.HasPrefix(out, "[") {
		var res []struct {
			Path    string            `json:"path"`
			Outputs map[string]string `json:"outputs"`
		}
		if json.Unmarshal([]byte(out), &res) != nil || len(res) == 0 {
			return ""
		}
		if res[0].Path != "" {
			return res[0].Path
		}
		if p := res[0].Outputs["out"]; p != "" {
			return p
		}
		if len(res[0].Outputs) == 1 {
			for _, p := range res[0].Outputs {
				return p
			}
		}
		return ""
	}
	first, _, _ := strings.Cut(out, "\n")
	return strings.TrimSpace(first)
}
