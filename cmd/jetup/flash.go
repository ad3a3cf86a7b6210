package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

func (a *app) flashCommand() *cobra.Command {
	var o struct {
		script, flake, usbInstance, sysfs string
		timeout                           time.Duration
		verbose                           bool
	}
	cmd := &cobra.Command{
		Use:   "flash",
		Short: "Flash the board's UEFI firmware with the jetpack-nixos script",
		Long: `Flash the board's boot firmware with the jetpack-nixos flash script: build it
(nix build <flake>#<attribute> from the profile, or --flake), or take a built one
with --script (a result link or the executable in result/bin). The script runs
as root (through sudo when you are not root: jetup asks for the password once)
on a pty, with USB autosuspend off. Stages and the device's Step N/M progress
go to stderr (JSON lines with --json); the verdict, its cause and the next step
go to stdout. The whole output is kept in the run record.

Offline (--offline, or a host with no route out) the script comes from the
newest whole field kit for the profile (jetup prepare); when no kit holds it the
flash is refused (exit 2) before anything starts.

Without --script, jetup first checks that a board is in USB recovery mode and
stops (exit 2) before building anything if there is none. With --script it
warns and runs the script anyway: the script talks to the board itself.

A device that fails drops into an interactive console and the script waits for
ever: jetup reads what the device says, then ends the run. --timeout (default
20m, the build not included) and Ctrl-C end it too; no process is left behind.

The verdict is the last attempt's: a failure the script got past (it retried,
or a later run in the same log succeeded) is listed as a retry, never as the
outcome; a script's own failure verdict ("Final status: FAILED") is never
undone by a later "Successfully finished".

Exit status follows the script's own (0 success, 1 device-side failure, 2 the
device never appeared): 0 flashed; 1 failed; 2 no board in recovery mode, the
board never came up as the flash device after the RCM boot ("Jetson device not
detected", the script's exit 2), or bad input; 3 cancelled or timed out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			needProfile := o.script == "" && !strings.Contains(o.flake, "#")
			p, err := a.profile(needProfile)
			if err != nil {
				return err
			}
			if o.script != "" && o.flake != "" {
				return step.Refuse("usage", "give either --script or --flake", "--script and --flake exclude each other")
			}
			if o.sysfs != "" {
				l, err := a.usbLister(o.sysfs)
				if err != nil {
					return err
				}
				a.usb = l
			}
			name := ""
			if p != nil {
				name = p.Name
				if p.Family != profiles.Jetson && o.script == "" {
					return step.Refuse("no-flash-script", "`jetup profiles` lists the Jetson boards", "%s is not a Jetson: it has no flash step", p.Title)
				}
			}
			return a.recordStep(step.Flash, name, func(rs *runrec.Step) (runrec.Outcome, string, error) {
				if o.script == "" && o.flake == "" {
					// Offline, the script comes from a kit, or the flash
					// is refused before anything starts.
					if err := a.needKit(cmd.Context(), p, kit.Flash); err != nil {
						return runrec.Refused, "", err
					}
				}
				fo := flash.Options{
					Script: o.script, Flake: o.flake, USBInstance: o.usbInstance, Timeout: o.timeout,
					Lock: flash.LockFile(a.stateDir),
				}
				if !a.sim {
					// A real board: one flash on this host, whoever runs it.
					fo.HostLock = flash.HostLockName
				}
				return a.runFlash(cmd.Context(), rs, p, fo, o.verbose)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.script, "script", "", "a built flash script: a `result` link or the executable in result/bin")
	f.StringVar(&o.flake, "flake", "", "build from this flake instead of the profile's (REF, or REF#ATTRIBUTE)")
	f.StringVar(&o.usbInstance, "usb-instance", "", "the board's USB instance (1-8.4), when several are in recovery mode")
	f.DurationVar(&o.timeout, "timeout", flash.DefaultTimeout, "end the flash after this long (the build is not counted)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print the script's output lines too")
	f.StringVar(&o.sysfs, "sysfs", "", "look for the board in this sysfs tree instead of the host's bus (as jetup detect --sysfs)")
	return cmd
}

// runFlash runs the flash step with the headless face: live events on
// stderr, the result on stdout, everything in the run record.
func (a *app) runFlash(ctx context.Context, rs *runrec.Step, p *profiles.Profile, o flash.Options, verbose bool) (runrec.Outcome, string, error) {
	b := a.hardware()
	logFile, err := rs.OpenLog("log")
	if err != nil {
		return runrec.Failed, "", step.Errorf("state-dir", "pass --state-dir with a writable directory", "%v", err)
	}
	defer logFile.Close()
	buildLog := rs.LazyLog("build.log")
	defer buildLog.Close()
	helper, err := flash.SelfHelper()
	if err != nil {
		return runrec.Failed, "", err
	}
	o.Profile, o.Edge, o.Runner, o.Nix, o.Log, o.BuildLog = p, b.Flash, b.Runner, b.Nix, logFile, buildLog
	o.Helper = helper
	o.Finder = a.recoveryFinder(b, p)
	o.Authorize = a.sudoOnTerminal
	if p != nil && p.Flash != nil {
		o.OutLink = filepath.Join(a.stateDir, "gcroots", p.Flash.Attribute)
	}

	sink := &flashPrinter{p: step.NewPrinter(a.stderr, a.json), json: a.json, verbose: verbose}
	res, ferr := flash.Flash(ctx, o, sink)
	_ = rs.SetDetails(res)
	if a.json {
		if err := writeJSON(a.stdout, res); err != nil {
			return runrec.Failed, "", err
		}
	} else if res.Ended != "" || res.Outcome == flash.Success {
		printVerdict(a.stdout, res.Verdict, logFile.Name())
	}

	summary := flashSummary(res)
	var se *step.Error
	switch {
	case ferr == nil:
		return runrec.Success, summary, nil
	case res.Ended == flash.EndCancelled:
		return runrec.Cancelled, summary, quiet(ferr, a.json || res.Ended != "")
	case res.Ended == "" && errors.As(ferr, &se) && se.Code == step.ExitRefused:
		return runrec.Refused, summary, quiet(ferr, a.json)
	}
	return runrec.Failed, summary, quiet(ferr, a.json || res.Ended != "")
}

// quiet keeps the error's cause, next step and exit code for the run record
// but prints nothing more when the verdict is already on stdout.
func quiet(err error, printed bool) error {
	var se *step.Error
	if !printed || !errors.As(err, &se) {
		return err
	}
	return &step.Error{Cause: se.Cause, Next: se.Next, Code: se.ExitCode()}
}

func flashSummary(r flash.Result) string {
	took := (time.Duration(r.Seconds) * time.Second).String()
	switch r.Outcome {
	case flash.Success:
		return "flashed in " + took
	case flash.Incomplete:
		return fmt.Sprintf("stopped at %q after %s (%s)", r.Stage.Title(), took, r.Ended)
	}
	if r.Ended == "" {
		return r.What
	}
	return fmt.Sprintf("failed at %q: %s (%s)", r.Stage.Title(), r.What, r.Cause)
}

// printVerdict is the human form of a verdict.
func printVerdict(w io.Writer, v flash.Verdict, logPath string) {
	switch v.Outcome {
	case flash.Success:
		fmt.Fprintf(w, "✓ Flashed.\n  %s\n", v.Hint)
	case flash.Failed:
		fmt.Fprintf(w, "✗ Flash failed at %q: %s (%s).\n", v.Stage.Title(), v.What, v.Cause)
	default:
		fmt.Fprintf(w, "… Flash incomplete at %q: %s (%s).\n", v.Stage.Title(), v.What, v.Cause)
	}
	if v.Outcome != flash.Success && len(v.Evidence) > 0 {
		fmt.Fprintln(w, "  evidence:")
		for _, e := range v.Evidence {
			fmt.Fprintf(w, "    line %d: %s\n", e.Line, e.Text)
		}
	}
	if v.Outcome != flash.Success {
		fmt.Fprintf(w, "  next: %s\n", v.Hint)
	}
	// Earlier attempts are reported, never the outcome.
	for i, r := range v.Retries {
		what := string(r.Outcome)
		if r.Cause != "" {
			what += " (" + string(r.Cause) + ")"
		}
		fmt.Fprintf(w, "  earlier attempt %d: %s at %q", v.Attempts-len(v.Retries)+i, what, r.Stage.Title())
		if len(r.Evidence) > 0 {
			fmt.Fprintf(w, ", line %d: %s", r.Evidence[0].Line, r.Evidence[0].Text)
		}
		fmt.Fprintln(w)
	}
	if logPath != "" {
		fmt.Fprintf(w, "  log: %s\n", logPath)
	}
}

// flashPrinter is the headless face of the flash events: output lines only
// with --verbose, build progress every few seconds in text, the verdict
// only in JSON (the text verdict goes to stdout).
type flashPrinter struct {
	p             *step.Printer
	json, verbose bool
	mu            sync.Mutex
	lastBuild     time.Time
}

func (f *flashPrinter) Emit(e step.Event) {
	switch ev := e.(type) {
	case flash.OutputEvent:
		if !f.verbose {
			return
		}
	case flash.VerdictEvent:
		if !f.json {
			return
		}
	case flash.BuildEvent:
		if !f.json && !ev.Done {
			f.mu.Lock()
			early := time.Since(f.lastBuild) < 5*time.Second
			if !early {
				f.lastBuild = time.Now()
			}
			f.mu.Unlock()
			if early {
				return
			}
		}
	}
	f.p.Emit(e)
}

// sudoOnTerminal lets sudo ask for the password on the terminal.
func (a *app) sudoOnTerminal(ctx context.Context) error {
	if !term.IsTerminal(os.Stdin.Fd()) {
		return errors.New("sudo needs a password and there is no terminal to ask on")
	}
	c := flash.SudoPrompt()
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, a.stderr, a.stderr
	return c.Run()
}

// recoveryFinder looks for boards in recovery mode with the detect step's
// scan of the bench's USB bus. The simulated bench's board is already in
// recovery mode for a headless flash (in the wizard it enters recovery on
// the Recover screen).
func (a *app) recoveryFinder(b hardware.Edges, p *profiles.Profile) flash.BoardFinder {
	usb := b.USB
	if a.usb != nil {
		usb = a.usb
	} else if a.sim {
		id := ""
		if p != nil && p.Recovery != nil && len(p.Recovery.USBIDs) > 0 {
			id = p.Recovery.USBIDs[0].ID
		}
		usb = sim.FlashUSB(id)
	}
	if usb == nil {
		return nil
	}
	set, _ := a.loadProfiles()
	return flash.USBFinder(usb, detect.Options{Profile: p, Profiles: set.All()})
}
