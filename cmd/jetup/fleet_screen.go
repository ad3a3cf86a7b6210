package main

import (
	"context"
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/jetup/jetup/fleet"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/tui"
)

// fleetScreen is `jetup fleet FILE`: the fleet screen, a row per node,
// running the same fleet.Push as `jetup fleet push` with the same flags.
// It exits as fleet push does (the last run's exit code).
func (a *app) fleetScreen(cmd *cobra.Command, file string, f fleetFlags, start bool) error {
	if !term.IsTerminal(os.Stdin.Fd()) || !term.IsTerminal(os.Stdout.Fd()) {
		return &step.Error{Cause: "no-terminal", Code: step.ExitRefused, Err: errNoTerminal,
			Next: "run jetup fleet " + file + " in a terminal, or jetup fleet push " + file + " from scripts"}
	}
	inv, err := a.loadInventory(cmd, file)
	if err != nil {
		return err
	}
	o, err := a.fleetOptions(inv, f)
	if err != nil {
		return err
	}
	m := tui.NewFleet(tui.FleetOptions{Push: o, Edge: a.fleetEdge(), Start: start,
		Reload: func(context.Context) (*fleet.Inventory, error) {
			inv, err := a.loadInventory(cmd, file)
			if err == nil {
				err = inv.Pushable(o.Only)
			}
			return inv, err
		}})
	_, err = tea.NewProgram(m, tea.WithContext(cmd.Context())).Run()
	// However the program ended, stop a run still going: every node's
	// ssh and nix end before jetup does.
	m.Close()
	if err != nil {
		return err
	}
	// The verdict stays on the terminal once the screen is gone.
	if res := m.Result(); res != nil {
		step.NewPrinter(a.stdout, false).Emit(*res)
		for _, n := range res.Nodes {
			if n.State == fleet.Failed && n.Next != "" {
				fmt.Fprintf(a.stdout, "  %s: next: %s\n", n.Name, n.Next)
			}
		}
	}
	if code := m.ExitCode(); code != 0 {
		return silent(code)
	}
	return nil
}
