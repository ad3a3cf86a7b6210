package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"charm.land/fang/v2"
	"github.com/spf13/cobra"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func jetupVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	// jetup started as its own root helper for the flash (through sudo):
	// no CLI, no styling, just the pty and the script.
	if len(os.Args) > 1 && os.Args[1] == flash.HelperArg {
		os.Exit(flash.HelperMain(os.Args[2:]))
	}
	// Everything jetup prints goes through safe.Text: board names, log
	// lines and records may carry escape sequences. The live console's
	// stream is the one exception (rawStdout): it is a terminal.
	a := &app{stdin: os.Stdin, stdout: safe.NewWriter(os.Stdout), stderr: safe.NewWriter(os.Stderr), rawStdout: os.Stdout}
	err := fang.Execute(context.Background(), a.rootCommand(),
		fang.WithVersion(jetupVersion()),
		fang.WithErrorHandler(printError),
		fang.WithNotifySignal(os.Interrupt, syscall.SIGTERM),
	)
	if a.sim {
		sim.Cleanup() // the stick image, demo installer and replay scripts
	}
	os.Exit(step.ExitCodeOf(err))
}

// printError prints what happened and, when the error carries one, what to
// do next. Errors with no message (a verdict already printed) print nothing.
func printError(w io.Writer, _ fang.Styles, err error) {
	if err.Error() == "" {
		return
	}
	// An error may quote a board, a log or a file.
	fmt.Fprintf(w, "jetup: %s\n", safe.Text(err.Error()))
	if next := step.NextOf(err); next != "" {
		fmt.Fprintf(w, "next: %s\n", safe.Text(next))
	}
}

// app holds the global flags and what they resolve to.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer // sanitized (safe.Writer)
	rawStdout      io.Writer // the live console's passthrough only

	profileName string
	sim         bool
	stateDir    string
	json        bool
	simFlash    string
	simVerify   string
	simSpeed    float64
	noOverlap   bool
	offline     bool
	off         offlineState
	usb         detect.Lister // flash --sysfs: the bus to look for the board on

	stateOnce sync.Once
	stateErr  error

	profilesOnce sync.Once
	profileSet   *profiles.Set
	profileErrs  []error
}

// applySim passes --sim-flash and --sim-speed to the simulated bench, which
// reads JETUP_SIM_FLASH and JETUP_SIM_SPEED (so a demo can also be steered
// from the environment).
func (a *app) applySim() error {
	if (a.simFlash != "" || a.simSpeed != 0) && !a.sim {
		return step.Refuse("usage", "add --sim: --sim-flash and --sim-speed steer the simulated bench only", "--sim-flash or --sim-speed without --sim")
	}
	if a.simSpeed < 0 {
		return step.Refuse("usage", "give a positive factor, e.g. --sim-speed 5", "--sim-speed %v is not a speed", a.simSpeed)
	}
	if a.simSpeed > 0 {
		_ = os.Setenv(sim.SpeedEnv, strconv.FormatFloat(a.simSpeed, 'f', -1, 64))
	}
	if a.simVerify != "" {
		if !a.sim {
			return step.Refuse("usage", "add --sim: --sim-verify steers the simulated board only", "--sim-verify without --sim")
		}
		if !slices.Contains(sim.VerifyFailures, a.simVerify) {
			return step.Refuse("usage", "choose one of: "+strings.Join(sim.VerifyFailures, ", "), "unknown --sim-verify %q", a.simVerify)
		}
		_ = os.Setenv(sim.VerifyEnv, a.simVerify)
	}
	if a.simFlash == "" {
		return nil
	}
	for _, o := range sim.FlashOutcomes() {
		if o == a.simFlash {
			return os.Setenv("JETUP_SIM_FLASH", o)
		}
	}
	return step.Refuse("usage", "choose one of: "+strings.Join(sim.FlashOutcomes(), ", "), "unknown --sim-flash %q", a.simFlash)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "jetup",
		Short: "Bring up NVIDIA Jetson boards and Raspberry Pis with NixOS",
		Long: `jetup walks you through bringing up a board with NixOS: check the host, put the
board in USB recovery mode, flash its firmware (jetpack-nixos), watch the serial
console, write the installer to a stick, push the first system over SSH, and
verify that the board works. After the first boot: fleets in phases, offline
bundles for thin links, other image and update formats, and field kits for a
laptop with no network.

Run it with no arguments for the wizard; every step is also a subcommand.`,
		Args: cobra.NoArgs,
		RunE: a.runWizard,
	}
	root.Flags().BoolVar(&a.noOverlap, "no-overlap", false,
		"a bench one board at a time: the next board starts after the last one's summary, not while it is pushed and checked")
	pf := root.PersistentFlags()
	pf.StringVar(&a.profileName, "profile", "", "board profile (see `jetup profiles`)")
	pf.BoolVar(&a.sim, "sim", false, "use the simulated bench instead of real hardware")
	pf.StringVar(&a.stateDir, "state-dir", defaultStateDir(), "where run records, logs and pinned host keys are kept (a directory only you can write to)")
	pf.BoolVar(&a.json, "json", false, "print machine-readable JSON (headless subcommands)")
	pf.StringVar(&a.simFlash, "sim-flash", "", "with --sim: how the simulated flash ends: success or a cause id (e.g. usb-transport)")
	_ = root.RegisterFlagCompletionFunc("sim-flash", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return sim.FlashOutcomes(), cobra.ShellCompDirectiveNoFileComp
	})
	pf.StringVar(&a.simVerify, "sim-verify", "", "with --sim: make one verify check of the simulated board fail (e.g. no-cdi, k3s-not-ready, failed-unit)")
	_ = root.RegisterFlagCompletionFunc("sim-verify", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return sim.VerifyFailures, cobra.ShellCompDirectiveNoFileComp
	})
	pf.Float64Var(&a.simSpeed, "sim-speed", 0, "with --sim: run the simulated bench N times faster than real time")
	pf.BoolVar(&a.offline, "offline", false, "no network: every nix call offline, each step's artifact from a field kit (`jetup prepare`); on by itself when the host has no route out")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		a.decideOffline(cmd.Flags().Changed("offline"))
		if a.profileName != "" {
			// It names the run directory: never a path.
			if err := safe.Name("profile", a.profileName); err != nil {
				return step.Refuse("usage", "`jetup profiles` lists the profile names", "--profile: %v", err)
			}
		}
		return a.applySim()
	}
	_ = root.RegisterFlagCompletionFunc("profile", a.completeProfiles)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return step.Refuse("usage", "see `jetup --help` or `jetup <command> --help`", "%v", err)
	})
	root.AddCommand(a.versionCommand(), a.profilesCommand(), a.doctorCommand(), a.runsCommand(), a.detectCommand(), a.flashCommand(), a.diagnoseCommand(), a.writeCommand(), a.consoleCommand(), a.pushCommand(), a.verifyCommand(), a.inspectCommand(), a.updateCommand(),
		a.manifestCommand(), a.boardsCommand(), a.bundleCommand(), a.applyCommand(), a.fleetCommand(), a.prepareCommand(), a.kitsCommand())
	return root
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print jetup's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if a.json {
				return writeJSON(a.stdout, map[string]string{"version": jetupVersion()})
			}
			_, err := fmt.Fprintln(a.stdout, "jetup", jetupVersion())
			return err
		},
	}
}

// defaultStateDir is $XDG_STATE_HOME/jetup, or ~/.local/state/jetup; ""
// when there is no home (then app.state makes a private one per run).
func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "jetup")
	}
	if home := safe.Home(); home != "" {
		return filepath.Join(home, ".local", "state", "jetup")
	}
	return ""
}

// silent is an error that only sets the exit code: the command has already
// printed its verdict.
func silent(code int) error { return &step.Error{Code: code} }

var errNoTerminal = errors.New("the wizard needs a terminal")
