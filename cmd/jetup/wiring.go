package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// bench picks the hardware: the only place that chooses real or simulated.
func (a *app) hardware() hardware.Edges {
	if a.sim {
		b := sim.Hardware()
		// The simulated board is the one the chosen profile is for.
		if set, _ := a.loadProfiles(); set != nil {
			if p, ok := set.Get(a.profileName); ok && p.Recovery != nil && len(p.Recovery.USBIDs) > 0 {
				b.USB = sim.DemoUSBFor(p.Recovery.USBIDs[0].ID)
			}
		}
		return b
	}
	b := hardware.Real()
	a.wireNix(b)
	return b
}

// loadProfiles reads the embedded and user profiles once per run; problems
// in user files are printed as warnings that first time and the rest is
// used.
func (a *app) loadProfiles() (*profiles.Set, []error) {
	a.profilesOnce.Do(func() {
		a.profileSet, a.profileErrs = profiles.Load(assets.Profiles(), profiles.UserDir())
		for _, err := range a.profileErrs {
			fmt.Fprintf(a.stderr, "jetup: ignoring profile: %v\n", err)
		}
	})
	return a.profileSet, a.profileErrs
}

// profile resolves --profile. required makes a missing flag an error.
func (a *app) profile(required bool) (*profiles.Profile, error) {
	set, _ := a.loadProfiles()
	if a.profileName == "" {
		if required {
			return nil, step.Refuse("no-profile", "pass --profile NAME; `jetup profiles` lists them", "this command needs to know the board")
		}
		return nil, nil
	}
	p, ok := set.Get(a.profileName)
	if !ok {
		return nil, step.Refuse("unknown-profile", "`jetup profiles` lists the boards jetup knows: "+strings.Join(set.Names(), ", "),
			"unknown profile %q", a.profileName)
	}
	return p, nil
}

func (a *app) completeProfiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	set, _ := a.loadProfiles()
	var out []string
	for _, p := range set.All() {
		out = append(out, p.Name+"\t"+p.Title)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// hostInfo describes this machine for run records.
func hostInfo() runrec.Host {
	h := runrec.Host{OS: osName()}
	h.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Arch = unix.ByteSliceToString(u.Machine[:])
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if cu, err := user.Current(); err == nil {
		h.User = cu.Username
	}
	return h
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "linux"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "linux"
}

// startRun opens a run record for a headless command or the wizard.
func (a *app) startRun(kind, profile string) (*runrec.Run, error) {
	dir, err := a.state()
	if err != nil {
		return nil, err
	}
	run, err := runrec.Create(dir, runrec.Options{
		Kind: kind, Profile: profile, Version: jetupVersion(), Command: os.Args, Host: hostInfo(), Sim: a.sim,
	})
	if err != nil {
		return nil, step.Refuse("state-dir", "pass --state-dir with a writable directory", "%v", err)
	}
	return run, nil
}

// stepFunc is a headless step's body. It returns a one-line summary for the
// run record; outcome may be left empty to derive it from err.
type stepFunc func(rs *runrec.Step) (outcome runrec.Outcome, summary string, err error)

// recordStep runs one headless step inside its own run record: the record is
// written before the step starts and again when it ends, however it ends.
func (a *app) recordStep(id step.ID, profile string, fn stepFunc) error {
	run, err := a.startRun(string(id), profile)
	if err != nil {
		return err
	}
	rs := run.Begin(id)
	a.takeNixCalls() // the calls before the step are not its own
	outcome, summary, err := fn(rs)
	if outcome == "" {
		outcome = runrec.OutcomeOf(err)
	}
	if calls := a.takeNixCalls(); a.off.on {
		recordNixCalls(rs, calls, a.stderr)
	}
	_ = rs.Finish(outcome, summary, err)
	_ = run.Close(outcome)
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
