package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// ApplyOptions run a bundle on the board itself (jetup apply): the same
// checks and steps as `sh FILE`, from jetup's own copy of the board-side
// script, so a bundle whose script was changed on the way cannot skip them.
type ApplyOptions struct {
	// File is the bundle, or the first of its parts (FILE.part000; FILE
	// itself when only the parts are there).
	File string
	// Args are the script's: --check|--switch|--boot and its options.
	Args           []string
	Stdout, Stderr io.Writer
}

// Apply runs the bundle's checks and apply on this machine with its own
// nix, and returns the script's exit status (0 done, 1 failed and rolled
// back, 2 refused).
func Apply(ctx context.Context, runner proc.Runner, o ApplyOptions) (int, error) {
	file := o.File
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(file + ".part000"); err == nil {
			file += ".part000"
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return step.ExitRefused, step.Refuse("usage", "pass the bundle file (or its FILE.part000)", "%v", err)
	}
	head := make([]byte, 16<<10)
	n, _ := io.ReadFull(f, head)
	f.Close()
	v, err := ReadVars(head[:n])
	if err != nil {
		return step.ExitRefused, step.Refuse("not-a-bundle", "pass a file jetup bundle wrote", "%s: %v", file, err)
	}
	cmd := runner.Command(ctx, "sh", append([]string{"-c", ApplyScript(v), "jetup-apply"}, o.Args...)...)
	cmd.Env = append(os.Environ(), "JETUP_BUNDLE="+file)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case ctx.Err() != nil:
		return step.ExitFailed, ctx.Err()
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return ee.ExitCode(), nil
	}
	return step.ExitFailed, fmt.Errorf("running the bundle's script: %w", err)
}
