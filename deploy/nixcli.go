package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetup/jetup/proc"
)

// NixCLI is this machine's Nix, through the nix command. Debian's Nix 2.8
// needs the experimental features named on every call.
type NixCLI struct {
	Runner proc.Runner
}

var nixFeatures = []string{"--extra-experimental-features", "nix-command flakes"}

// StoreDir is where store paths live.
func StoreDir() string {
	if d := os.Getenv("NIX_STORE_DIR"); d != "" {
		return filepath.Clean(d)
	}
	return "/nix/store"
}

// Resolve follows links (./result) to the store path itself.
func (NixCLI) Resolve(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	p, _ = filepath.Abs(p)
	if filepath.Dir(p) != StoreDir() {
		return "", fmt.Errorf("%s is not a store path (it resolves to %s, outside %s)", path, p, StoreDir())
	}
	return p, nil
}

// ReadFile reads a file of a store path.
func (NixCLI) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// Build runs `nix build --json` and returns the output path.
func (n NixCLI) Build(ctx context.Context, installable string, log io.Writer) (string, error) {
	args := append(append([]string{}, nixFeatures...), "build", "--no-link", "--json",
		"--log-format", "internal-json", "-v", installable)
	out, err := n.run(ctx, args, nil, log)
	if err != nil {
		return "", err
	}
	var res []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) == 0 {
		return "", fmt.Errorf("nix build printed no result for %s: %.200s", installable, out)
	}
	if p := res[0].Outputs["out"]; p != "" {
		return p, nil
	}
	for _, p := range res[0].Outputs {
		return p, nil
	}
	return "", fmt.Errorf("nix build of %s has no output path", installable)
}

// PathInfo runs `nix path-info -r --json`. -S (closure sizes) is left out:
// the delta needs each path's own NAR size only, and -S sums a closure per
// path.
func (n NixCLI) PathInfo(ctx context.Context, path string) ([]byte, error) {
	args := append(append([]string{}, nixFeatures...), "path-info", "-r", "--json", path)
	return n.run(ctx, args, nil, nil)
}

// Copy runs `nix copy`.
func (n NixCLI) Copy(ctx context.Context, req CopyRequest, log io.Writer) error {
	args := append(append([]string{}, nixFeatures...), "copy", "--to", req.To, "--log-format", "internal-json", "-v")
	if req.NoCheckSigs {
		args = append(args, "--no-check-sigs")
	}
	args = append(args, req.Paths...)
	_, err := n.run(ctx, args, req.Env, log)
	return err
}

// run runs nix, streaming stderr to log (and keeping its errors for the
// returned error) and returning stdout.
func (n NixCLI) run(ctx context.Context, args, env []string, log io.Writer) ([]byte, error) {
	cmd := n.Runner.Command(ctx, "nix", args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout bytes.Buffer
	var errs []string
	lw := proc.NewLineWriter(func(line string) {
		if log != nil {
			_, _ = io.WriteString(log, line+"\n")
		}
		if l := ParseNixLine(line); l.IsError() {
			errs = append(errs, strings.TrimSpace(l.Message()))
			if len(errs) > 8 {
				errs = errs[1:]
			}
		}
	})
	cmd.Stdout, cmd.Stderr = &stdout, lw
	err := cmd.Run()
	lw.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &NixError{Args: args, Err: err, Messages: errs}
	}
	return stdout.Bytes(), nil
}

// NixError is a nix command that failed, with the errors it printed.
type NixError struct {
	Args     []string
	Err      error
	Messages []string
}

func (e *NixError) Error() string {
	if len(e.Messages) > 0 {
		return strings.Join(e.Messages, "; ")
	}
	return fmt.Sprintf("nix %s: %v", strings.Join(e.Args[2:min(len(e.Args), 4)], " "), e.Err)
}

func (e *NixError) Unwrap() error { return e.Err }
