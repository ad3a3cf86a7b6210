package flash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Exit codes of `jetup flash`: 0 success, 1 failed, 2 no board (or bad
// input), 3 cancelled or timed out.
const ExitCancelled = 3

// Board is a board in USB recovery mode, as the detect step finds it.
type Board struct {
	USBInstance string         `json:"usb_instance"` // "1-8.4": --usb-instance for the script
	ID          string         `json:"id,omitempty"` // "0955:7523"
	Module      string         `json:"module,omitempty"`
	Warnings    []BoardWarning `json:"warnings,omitempty"`
}

// BoardWarning is something wrong with the board's link or identity
// (detect's warning ids: full-speed, no-access, module-mismatch, ...).
type BoardWarning struct {
	ID      string `json:"id"`
	Warning string `json:"warning"`
	Next    string `json:"next,omitempty"`
}

// BoardFinder finds boards in USB recovery mode (flash/detect provides the
// real one).
type BoardFinder interface {
	FindBoards(ctx context.Context) ([]Board, error)
}

// FinderFunc adapts a function to BoardFinder.
type FinderFunc func(ctx context.Context) ([]Board, error)

// FindBoards calls f.
func (f FinderFunc) FindBoards(ctx context.Context) ([]Board, error) { return f(ctx) }

// Edge is the flash step's hardware edge (hardware.Edges.Flash): what stands
// between jetup and the board.
type Edge interface {
	// Script returns a ready flash script for the profile, or "" when it
	// is to be built from the profile's flake (the real bench).
	Script(ctx context.Context, p *profiles.Profile) (string, error)
	// NeedsRoot reports whether the script must run as root.
	NeedsRoot() bool
	// Autosuspend is the usbcore autosuspend parameter to turn off during
	// the flash; "" leaves it alone.
	Autosuspend() string
}

// Host is the real bench: scripts are built with nix and run as root.
type Host struct{}

func (Host) Script(context.Context, *profiles.Profile) (string, error) { return "", nil }
func (Host) NeedsRoot() bool                                           { return true }
func (Host) Autosuspend() string                                       { return AutosuspendPath }

// Options for one flash.
type Options struct {
	Profile     *profiles.Profile // may be nil with Script
	Script      string            // --script: a built script or a result link
	Flake       string            // --flake: a flake ("REF", with the profile's attribute) or "REF#ATTR"
	USBInstance string            // --usb-instance; else the detected board's
	Args        []string          // more arguments for the script
	Timeout     time.Duration     // for the script run (not the build); DefaultTimeout when 0
	Edge        Edge
	// Finder looks for the board; nil when jetup cannot look (the script
	// is then run without the check).
	Finder BoardFinder
	Runner proc.Runner
	// Nix builds the flash script: the run's shared Nix runner with its
	// modes; nil runs nix from PATH through Runner.
	Nix    *nixrun.Nix
	Helper Helper
	// Authorize gets the sudo credential when it is needed and not cached
	// (headless: `sudo -v` on the terminal). nil: a missing credential is
	// an error (the TUI asks before it starts the flash).
	Authorize func(ctx context.Context) error
	Log       io.Writer // the script's raw output
	BuildLog  io.Writer // nix's raw stderr
	OutLink   string    // GC root for a built script
	// ConsoleGrace: see DefaultConsoleGrace.
	ConsoleGrace time.Duration
	// Lock is the state dir's flash lock (LockFile): held for the flash, a
	// second flash is refused (lock.go). "" takes none.
	Lock string
	// HostLock is the host's flash lock (HostLockName), held as well, so
	// two users' flashes (a wizard's and sudo jetup flash) exclude each
	// other too; the simulated bench takes none. "" takes none.
	HostLock string
}

// Result of a flash: the verdict and how it came about. Its JSON is the
// `jetup flash --json` result and the run record's details.
type Result struct {
	Verdict
	Script      string `json:"script,omitempty"`
	Built       bool   `json:"built,omitempty"`
	Board       *Board `json:"board,omitempty"`
	USBInstance string `json:"usb_instance,omitempty"`
	Seconds     int    `json:"seconds"`
}

// Flash finds the board, gets the script (built when need be), runs it as
// root under a pty and judges the outcome. The error is a *step.Error with
// the cause, the next step and the exit code (1 failed, 2 no board, 3
// cancelled or timed out); the result is filled as far as the flash got.
func Flash(ctx context.Context, o Options, sink step.Sink) (Result, error) {
	start := time.Now()
	if o.Runner == nil {
		o.Runner = proc.Host{}
	}
	if o.Edge == nil {
		o.Edge = Host{}
	}
	if sink == nil {
		sink = step.Discard
	}
	res := Result{USBInstance: o.USBInstance}
	res, err := doFlash(ctx, o, sink, res)
	if err != nil && res.Outcome == "" {
		res.Verdict = preRunVerdict(ctx, err)
	}
	res.Seconds = int(time.Since(start).Seconds())
	return res, err
}

// preRunVerdict describes a flash that stopped before the script ran, with
// the nearest cause id; ErrorCause keeps the step's own.
func preRunVerdict(ctx context.Context, err error) Verdict {
	v := Verdict{Outcome: Failed, Cause: CauseUnknown, Evidence: []Evidence{}}
	var se *step.Error
	if errors.As(err, &se) {
		v.ErrorCause, v.What, v.Hint = se.Cause, se.What, se.Next
		if c := Cause(se.Cause); c.Known() {
			v.Cause = c
		}
	} else {
		v.What = err.Error()
	}
	if ctx.Err() != nil {
		v.Outcome, v.Ended = Incomplete, EndCancelled
	}
	if v.Hint == "" {
		v.Hint = v.Cause.Hint()
	}
	return v
}

func doFlash(ctx context.Context, o Options, sink step.Sink, res Result) (Result, error) {
	releaseHost, err := holdHost(o.HostLock, holder(o))
	if err != nil {
		return res, err
	}
	defer releaseHost()
	release, err := hold(o.Lock, holder(o))
	if err != nil {
		return res, err
	}
	defer release()
	board, err := findBoard(ctx, &o, sink)
	if err != nil {
		return res, err
	}
	res.Board, res.USBInstance = board, o.USBInstance

	sudo := o.Edge.NeedsRoot() && NeedsSudo()
	if sudo && !SudoCached(ctx, o.Runner) {
		if err := authorize(ctx, o); err != nil {
			return res, err
		}
	}
	buildCtx, stopKeep := context.WithCancel(ctx)
	if sudo {
		go keepSudo(buildCtx, o.Runner, 2*time.Minute)
	}
	script, built, err := getScript(buildCtx, o, sink)
	stopKeep()
	if err != nil {
		if ctx.Err() != nil {
			return res, &step.Error{Cause: "cancelled", What: "flash cancelled while getting the script", Next: "start the flash again", Code: ExitCancelled, Err: ctx.Err()}
		}
		return res, err
	}
	res.Script, res.Built = script, built
	sink.Emit(NoticeEvent{Event: "notice", At: now(), Message: describeScript(script, built)})

	v, err := Run(ctx, RunOptions{
		Script: script, Args: o.Args, USBInstance: o.USBInstance, Timeout: o.Timeout, ConsoleGrace: o.ConsoleGrace,
		Helper: o.Helper, Sudo: sudo, Autosuspend: o.Edge.Autosuspend(), Runner: o.Runner, Log: o.Log,
	}, sink)
	if err != nil {
		return res, step.Errorf("helper", "check that jetup's own binary can be run (it starts itself as the flash helper)", "%v", err)
	}
	res.Verdict = v
	return res, VerdictError(v)
}

// findBoard checks for a board in recovery mode. Without --script, none is
// a refusal (exit 2) before anything is built; with --script the script
// talks to the board itself, so jetup only warns.
func findBoard(ctx context.Context, o *Options, sink step.Sink) (*Board, error) {
	if o.Finder == nil {
		sink.Emit(NoticeEvent{Event: "warning", At: now(), Message: "jetup cannot look for the board here; the script checks for it itself"})
		return nil, nil
	}
	boards, err := o.Finder.FindBoards(ctx)
	if err != nil {
		sink.Emit(NoticeEvent{Event: "warning", At: now(), Message: "could not look for boards in recovery mode: " + err.Error()})
		if o.Script == "" {
			return nil, step.Refuse(string(CauseNoRecoveryDevice), "check USB access (`jetup doctor`), or pass --script to let the script look for the board itself",
				"cannot look for a board in recovery mode: %v", err)
		}
		return nil, nil
	}
	var pick *Board
	for i := range boards {
		if o.USBInstance == "" || boards[i].USBInstance == o.USBInstance {
			if pick != nil && o.USBInstance == "" {
				return nil, step.Refuse(string(CauseNoRecoveryDevice), "pass --usb-instance with the one to flash (`jetup detect` lists them), or leave one board in recovery mode: the flash gadgets of two boards collide",
					"%d boards are in recovery mode", len(boards))
			}
			pick = &boards[i]
		}
	}
	if pick == nil {
		what := "no board is in USB recovery mode"
		if o.USBInstance != "" {
			what = "no board in USB recovery mode at USB " + o.USBInstance
		}
		if o.Script != "" {
			sink.Emit(NoticeEvent{Event: "warning", At: now(), Message: what + "; running the script anyway (it talks to the board itself)"})
			return nil, nil
		}
		return nil, step.Refuse(string(CauseNoRecoveryDevice), CauseNoRecoveryDevice.Hint(), "%s", what)
	}
	if o.USBInstance == "" {
		o.USBInstance = pick.USBInstance
	}
	msg := "board in recovery mode at USB " + pick.USBInstance
	if pick.Module != "" {
		msg += ": " + pick.Module
	}
	sink.Emit(NoticeEvent{Event: "notice", At: now(), Message: msg})
	for _, w := range pick.Warnings {
		sink.Emit(NoticeEvent{Event: "warning", At: now(), Message: w.Warning, Next: w.Next})
	}
	return pick, nil
}

func authorize(ctx context.Context, o Options) error {
	notRoot := func(err error) error {
		return &step.Error{Cause: string(CauseNotRoot), What: "jetup cannot become root to run the flash script", Next: CauseNotRoot.Hint(), Code: step.ExitFailed, Err: err}
	}
	if o.Authorize == nil {
		return notRoot(errors.New("sudo needs your password"))
	}
	if err := o.Authorize(ctx); err != nil {
		return notRoot(err)
	}
	if !SudoCached(ctx, o.Runner) {
		return notRoot(errors.New("sudo still asks for a password"))
	}
	return nil
}

// getScript resolves --script, asks the edge (the simulated bench has its
// own), or builds the profile's (or --flake's) flash attribute.
func getScript(ctx context.Context, o Options, sink step.Sink) (string, bool, error) {
	if o.Script != "" {
		s, err := ResolveScript(o.Script)
		return s, false, err
	}
	if o.Flake == "" {
		if s, err := o.Edge.Script(ctx, o.Profile); err != nil || s != "" {
			return s, false, err
		}
	}
	ref, err := flakeRef(o)
	if err != nil {
		return "", false, err
	}
	out, err := Build(ctx, BuildOptions{Ref: ref, OutLink: o.OutLink, Nix: o.Nix, Runner: o.Runner, Log: o.BuildLog}, sink)
	if err != nil {
		return "", false, err
	}
	s, err := ResolveScript(out)
	return s, true, err
}

// flakeRef is "flake#attribute" from --flake and the profile.
func flakeRef(o Options) (string, error) {
	if strings.Contains(o.Flake, "#") {
		return o.Flake, nil
	}
	if o.Profile == nil || o.Profile.Flash == nil {
		name := "this board"
		if o.Profile != nil {
			name = o.Profile.Name
		}
		return "", step.Refuse("no-flash-script", "pass --profile with a Jetson board, --flake REF#ATTR, or --script PATH",
			"jetup does not know which flash script to build for %s", name)
	}
	flake := o.Profile.Flash.Flake
	if o.Flake != "" {
		flake = o.Flake
	}
	return flake + "#" + o.Profile.Flash.Attribute, nil
}

// VerdictError turns a verdict into the step's error: nil on success, the
// cause and next step otherwise, with the exit code: 1 failed, 2 no board
// (none in recovery mode, or the script's own exit 2: the device never
// appeared), 3 cancelled or timed out.
func VerdictError(v Verdict) error {
	if v.Outcome == Success {
		return nil
	}
	e := &step.Error{Cause: string(v.Cause), Next: v.Hint, Code: step.ExitFailed}
	switch {
	case v.Ended == EndCancelled:
		e.What, e.Code = fmt.Sprintf("flash cancelled at %q", v.Stage.Title()), ExitCancelled
	case v.Ended == EndTimeout:
		e.What, e.Code = fmt.Sprintf("flash timed out at %q", v.Stage.Title()), ExitCancelled
	case v.Outcome == Incomplete:
		e.What = fmt.Sprintf("flash did not finish (last stage %q)", v.Stage.Title())
	default:
		e.What = fmt.Sprintf("flash failed at %q: %s", v.Stage.Title(), v.What)
		// The script's own exit status 2 means the device never came up
		// as the flasher ("Jetson device not detected"): like no board in
		// recovery mode, nothing was written.
		if v.Cause == CauseNoRecoveryDevice || v.Ended == EndExited && v.ExitCode != nil && *v.ExitCode == 2 {
			e.Code = step.ExitRefused
		}
	}
	return e
}
