package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/step"
)

// kitSummary is one kit in `jetup kits --json` and `jetup kits show
// --json`.
type kitSummary struct {
	Name       string        `json:"name"`
	Dir        string        `json:"dir"`
	Profile    string        `json:"profile,omitempty"`
	Created    *time.Time    `json:"created,omitempty"`
	AgeSeconds int64         `json:"age_seconds,omitempty"`
	Size       int64         `json:"size"`
	Artifacts  []kit.ID      `json:"artifacts"`
	State      string        `json:"state"` // whole, broken, unreadable
	Problems   []kit.Problem `json:"problems,omitempty"`
	Unreadable string        `json:"unreadable,omitempty"`
	// Current is whether the kit still holds what a prepare would make
	// now (absent for a kit that cannot be read).
	Current *kit.Currency `json:"current,omitempty"`
	// Missing are the artifacts the profile's steps use that the kit
	// lacks.
	Missing  []kit.ID      `json:"missing,omitempty"`
	Manifest *kit.Manifest `json:"manifest,omitempty"`
	// Modified are the paths `kits show --verify` found changed.
	Modified []string `json:"modified,omitempty"`
}

func (a *app) kitsCommand() *cobra.Command {
	list := &cobra.Command{
		Use:   "kits",
		Short: "List the field kits: for which profile, how big, how old, whole and current",
		Long: `List the field kits jetup prepare made (under <state-dir>/kits): the profile, what
each holds, its size in the store and its age; whether it is still whole (every
link in place and registered as a GC root, every path of every closure in the
store) and current (the profile still builds the same refs and no flake's lock
moved since: nix flake metadata asks the network; offline this is not
checked), with the command that refreshes a stale or broken one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, err := a.state()
			if err != nil {
				return err
			}
			nx := a.hardware().Nix
			all, err := kit.List(cmd.Context(), nx, state)
			if err != nil {
				return step.Errorf(string(kit.CauseState), "check the state directory", "cannot read the kits: %v", err)
			}
			sums := make([]kitSummary, 0, len(all))
			for _, h := range all {
				sums = append(sums, a.summarize(cmd.Context(), nx, h))
			}
			if a.json {
				return writeJSON(a.stdout, sums)
			}
			if len(sums) == 0 {
				fmt.Fprintf(a.stdout, "No kits in %s yet: jetup prepare --profile P makes one.\n", kit.Dir(state))
				return nil
			}
			printKits(a.stdout, sums)
			return nil
		},
	}
	var verify bool
	show := &cobra.Command{
		Use:               "show KIT",
		Short:             "Show one kit: each artifact's ref, locked revision, store path and size; what is wrong",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeKits,
		Long: `Show one kit. --verify also reads every path of its closures back and checks it
against the hash nix recorded (nix store verify): slow, and the only check that
sees a file changed inside the store.

Exit status: 0 whole, 1 broken or unreadable, 2 no such kit.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			state, err := a.state()
			if err != nil {
				return err
			}
			nx := a.hardware().Nix
			h, err := kit.Inspect(cmd.Context(), nx, state, args[0])
			if err != nil {
				return err
			}
			s := a.summarize(cmd.Context(), nx, h)
			s.Manifest = h.Manifest
			if verify && h.Manifest != nil {
				bad, err := kit.VerifyContents(cmd.Context(), nx, h.Manifest)
				if err != nil {
					return step.Errorf("verify-failed", "run nix store verify -r on the kit's paths yourself", "cannot verify kit %s: %s", h.Name, nixrun.ReasonOf(err))
				}
				s.Modified = bad
				for _, b := range bad {
					s.Problems = append(s.Problems, kit.Problem{What: "contents", Why: b})
				}
				if len(bad) > 0 {
					s.State = "broken"
				}
			}
			if a.json {
				if err := writeJSON(a.stdout, s); err != nil {
					return err
				}
			} else {
				printKit(a.stdout, s)
			}
			if s.State != "whole" {
				return silent(step.ExitFailed)
			}
			return nil
		},
	}
	show.Flags().BoolVar(&verify, "verify", false, "also check every byte of the kit against nix's hashes (slow)")
	rm := &cobra.Command{
		Use:               "rm KIT",
		Short:             "Remove a kit: its links and manifest (nix-collect-garbage then frees what nothing else pins)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeKits,
		RunE: func(_ *cobra.Command, args []string) error {
			state, err := a.state()
			if err != nil {
				return err
			}
			r, err := kit.Remove(state, args[0])
			if err != nil {
				return err
			}
			if a.json {
				return writeJSON(a.stdout, r)
			}
			fmt.Fprintln(a.stdout, r.Text())
			return nil
		},
	}
	list.AddCommand(show, rm)
	return list
}

func (a *app) completeKits(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	state, err := a.state()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	all, _ := kit.List(context.Background(), a.hardware().Nix, state)
	var out []string
	for _, h := range all {
		out = append(out, h.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// summarize is what the listing says of a kit: whole or not, current or
// not (asking each flake's lock, unless offline), what the profile's
// steps need that it lacks.
func (a *app) summarize(ctx context.Context, nx *nixrun.Nix, h *kit.Health) kitSummary {
	s := kitSummary{Name: h.Name, Dir: h.Dir, State: h.State(), Problems: h.Problems, Unreadable: h.Unreadable, Artifacts: []kit.ID{}}
	m := h.Manifest
	if m == nil {
		return s
	}
	created := m.Created
	s.Profile, s.Created, s.Size = m.Profile, &created, m.Size
	s.AgeSeconds = int64(time.Since(created).Seconds())
	for _, art := range m.Artifacts {
		s.Artifacts = append(s.Artifacts, art.ID)
	}
	set, _ := a.loadProfiles()
	p, _ := set.Get(m.Profile)
	cur := kit.Current(ctx, nx, m, p)
	s.Current = &cur
	s.Missing = kit.Missing(m, p)
	return s
}

func printKits(w io.Writer, sums []kitSummary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIT\tPROFILE\tHOLDS\tSIZE\tMADE\tSTATE")
	now := time.Now()
	for _, s := range sums {
		made, holds, state := "-", "-", s.State
		if s.Created != nil {
			made = kit.Age(*s.Created, now)
		}
		if len(s.Artifacts) > 0 {
			var ids []string
			for _, id := range s.Artifacts {
				ids = append(ids, string(id))
			}
			holds = strings.Join(ids, ", ")
		}
		if s.Current != nil && s.State == "whole" {
			state += ", " + s.Current.State
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, orDash(s.Profile), holds, kit.Bytes(s.Size), made, state)
	}
	_ = tw.Flush()
	for _, s := range sums {
		for _, n := range kitNotes(s) {
			fmt.Fprintf(w, "%s: %s\n", s.Name, n)
		}
	}
}

// kitNotes are the lines that say what is wrong with a kit and what to
// do.
func kitNotes(s kitSummary) []string {
	var out []string
	if s.Unreadable != "" {
		out = append(out, "unreadable: "+s.Unreadable, "next: move it away, or jetup kits rm "+s.Name+" (files not made by jetup are left)")
		return out
	}
	for _, p := range s.Problems {
		out = append(out, "broken: "+p.String())
	}
	if s.Current != nil {
		for _, r := range s.Current.Reasons {
			out = append(out, s.Current.State+": "+r)
		}
	}
	if len(s.Missing) > 0 {
		var ids []string
		for _, id := range s.Missing {
			ids = append(ids, id.Title())
		}
		out = append(out, "does not hold the "+strings.Join(ids, " or the ")+" the profile's steps use")
	}
	if s.Current != nil && (len(s.Problems) > 0 || s.Current.State == kit.StateStale || len(s.Missing) > 0) {
		out = append(out, "refresh: "+s.Current.Refresh)
	}
	return out
}

func printKit(w io.Writer, s kitSummary) {
	fmt.Fprintf(w, "kit %s: %s\n", s.Name, s.State)
	fmt.Fprintf(w, "  dir: %s\n", s.Dir)
	if m := s.Manifest; m != nil {
		fmt.Fprintf(w, "  profile: %s\n", m.Profile)
		fmt.Fprintf(w, "  made: %s (%s) by jetup %s\n", m.Created.Local().Format(time.DateTime), kit.Age(m.Created, time.Now()), orDash(m.Jetup))
		fmt.Fprintf(w, "  size: %s in the store\n", kit.Bytes(m.Size))
		for _, art := range m.Artifacts {
			fmt.Fprintf(w, "  %s: %s\n", art.ID.Title(), art.Ref)
			if art.Lock != nil {
				fmt.Fprintf(w, "    locked: %s\n", art.Lock.URL)
			}
			path := art.StorePath
			if art.File != "" {
				path += "/" + art.File
			}
			fmt.Fprintf(w, "    %s (%s with its closure), built %s\n", path, kit.Bytes(art.ClosureSize), art.BuiltAt.Local().Format(time.DateTime))
		}
		for _, f := range m.Flakes {
			fmt.Fprintf(w, "  flake %s at %s: %d source(s) archived\n", f.Flake, f.Lock.Short(), len(f.Sources))
		}
	}
	for _, n := range kitNotes(s) {
		fmt.Fprintf(w, "  %s\n", n)
	}
}
