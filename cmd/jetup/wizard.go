package main

import (
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/tui"
)

// runWizard starts the TUI.
func (a *app) runWizard(cmd *cobra.Command, _ []string) error {
	if !term.IsTerminal(os.Stdin.Fd()) || !term.IsTerminal(os.Stdout.Fd()) {
		return &step.Error{Cause: "no-terminal", Code: step.ExitRefused, Err: errNoTerminal,
			Next: "run jetup in a terminal, or use the subcommands from scripts (jetup --help lists them)"}
	}
	state, err := a.state()
	if err != nil {
		return err
	}
	set, _ := a.loadProfiles()
	if a.profileName != "" {
		if _, err := a.profile(true); err != nil {
			return err
		}
	}
	o := tui.Options{
		Profiles: set, Profile: a.profileName, StateDir: state, Version: jetupVersion(),
		Host: hostInfo(), Hardware: a.hardware(), Sim: a.sim, NoOverlap: a.noOverlap,
	}
	if !a.sim {
		// The field kits (issue 20): offline, the run's builds come from
		// the picked board's kits, and the picker prepares them.
		o.Kits = &tui.FieldKits{Offline: a.off.on, UseProfile: func(p *profiles.Profile) {
			if a.off.on {
				a.kitResolver().Use(p)
			}
		}, Prepared: func() {
			if a.off.on {
				a.kitResolver().Reload()
			}
		}}
	}
	m := tui.New(o)
	_, err = tea.NewProgram(m, tea.WithContext(cmd.Context())).Run()
	// However the program ended (quit, SIGTERM, a panic recovered by Bubble
	// Tea), stop every running step before exiting.
	m.Close()
	return err
}
