package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/step"
)

func (a *app) profilesCommand() *cobra.Command {
	list := &cobra.Command{
		Use:   "profiles",
		Short: "List the board profiles",
		Long: `List the board profiles: the embedded ones and yours from
$XDG_CONFIG_HOME/jetup/profiles/*.yaml, which add boards or replace them by name
(a file with "base: NAME" starts from an existing profile). Problems in a
file are reported with its name and line; the command then exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			set, errs := a.loadProfiles()
			if a.json {
				if err := writeJSON(a.stdout, set.All()); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tTITLE\tSTEPS")
				for _, p := range set.All() {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Title, p.StepList())
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if len(errs) > 0 {
				return silent(step.ExitFailed)
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use:               "show NAME",
		Short:             "Show one board profile",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeProfiles,
		RunE: func(_ *cobra.Command, args []string) error {
			a.profileName = args[0]
			p, err := a.profile(true)
			if err != nil {
				return err
			}
			if a.json {
				return writeJSON(a.stdout, p)
			}
			_, err = fmt.Fprint(a.stdout, p.Describe())
			return err
		},
	}
	list.AddCommand(show)
	return list
}
