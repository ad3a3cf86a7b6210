package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

func (a *app) runsCommand() *cobra.Command {
	var failed, bench, asCSV bool
	var last int
	var since string
	list := &cobra.Command{
		Use:   "runs",
		Short: "List past runs: which board failed where",
		Long: `List past wizard runs and headless steps, one line each: when, profile, board,
the outcome of each step (✓ success, ✗ failed or refused, – skipped, … interrupted
or running, ⊘ cancelled; retries show as several marks) and how long it took.
The record of each run is in <state-dir>/runs/<ID>/run.json with its logs.

With --bench: the boards of today's bench (the wizard's boards, one run each,
tied together by <state-dir>/bench.json), or of every bench since --since:
label, profile, each step's verdict and time, total time, the failure's cause
and next step, and a last line with boards done and failed and boards per
hour. --csv writes the same for a spreadsheet.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			state, err := a.state()
			if err != nil {
				return err
			}
			var from time.Time
			if bench || since != "" {
				if from, err = parseSince(since, time.Now()); err != nil {
					return err
				}
			}
			switch {
			case asCSV && a.json:
				return step.Refuse("usage", "choose one of --csv and --json", "--csv and --json together")
			case asCSV && !bench:
				return step.Refuse("usage", "add --bench: the CSV is the bench report", "--csv without --bench")
			case bench:
				return a.benchReport(state, from, asCSV)
			}
			runs, bad, err := runrec.ListSince(state, from)
			if err != nil {
				return step.Errorf("state-dir", "pass --state-dir with the directory jetup wrote its runs to", "cannot read runs: %v", err)
			}
			for _, e := range bad {
				fmt.Fprintf(a.stderr, "jetup: skipping a damaged run: %v\n", e)
			}
			runs = filterRuns(runs, a.profileName, failed, last)
			if a.json {
				if runs == nil {
					runs = []runrec.Record{}
				}
				return writeJSON(a.stdout, runs)
			}
			if len(runs) == 0 {
				fmt.Fprintf(a.stdout, "No runs recorded in %s yet.\n", a.stateDir)
				return nil
			}
			return printRuns(a.stdout, runs)
		},
	}
	list.Flags().BoolVar(&failed, "failed", false, "only runs where a step failed or was refused")
	list.Flags().IntVar(&last, "last", 0, "only the last N runs")
	list.Flags().BoolVar(&bench, "bench", false, "the bench report: today's boards (or since --since), each step's verdict and time, boards per hour")
	list.Flags().StringVar(&since, "since", "", "only runs started since D: a date (2026-11-21), date and time (2026-11-21T08:00), today, yesterday, or a duration back (12h)")
	list.Flags().BoolVar(&asCSV, "csv", false, "with --bench: CSV for a spreadsheet")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one run: each step, its outcome, cause, next step and logs",
		Args:  cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			state, err := a.state()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			runs, _, _ := runrec.List(state)
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.ID)
			}
			return ids, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			state, err := a.state()
			if err != nil {
				return err
			}
			if err := safe.Name("run id", args[0]); err != nil {
				return step.Refuse("unknown-run", "`jetup runs` lists the run ids", "%v", err)
			}
			dir := filepath.Join(state, "runs", args[0])
			rec, err := runrec.Load(dir)
			if err != nil {
				return step.Refuse("unknown-run", "`jetup runs` lists the run ids", "no run %q in %s: %v", args[0], a.stateDir, err)
			}
			if a.json {
				return writeJSON(a.stdout, rec)
			}
			return printRun(a.stdout, dir, rec)
		},
	}
	list.AddCommand(show)
	return list
}

func filterRuns(runs []runrec.Record, profile string, failed bool, last int) []runrec.Record {
	var out []runrec.Record
	for _, r := range runs {
		if profile != "" && r.Profile != profile {
			continue
		}
		if failed && !hasFailure(r) {
			continue
		}
		out = append(out, r)
	}
	if last > 0 && len(out) > last {
		out = out[len(out)-last:]
	}
	return out
}

func hasFailure(r runrec.Record) bool {
	for _, s := range r.Steps {
		if s.Outcome == runrec.Failed || s.Outcome == runrec.Refused {
			return true
		}
	}
	return r.Outcome == runrec.Failed
}

func mark(o runrec.Outcome) string {
	switch o {
	case runrec.Success:
		return "✓"
	case runrec.Failed, runrec.Refused:
		return "✗"
	case runrec.Skipped:
		return "–"
	case runrec.Cancelled:
		return "⊘"
	default:
		return "…"
	}
}

// stepMarks renders "detect✓ flash✗✓ console✓": one mark per attempt, so a
// retry that worked reads as ✗✓.
func stepMarks(r runrec.Record) string {
	var order []step.ID
	marks := map[step.ID]string{}
	for _, s := range r.Steps {
		if _, seen := marks[s.Step]; !seen {
			order = append(order, s.Step)
		}
		marks[s.Step] += mark(s.Outcome)
	}
	parts := make([]string, len(order))
	for i, id := range order {
		parts[i] = string(id) + marks[id]
	}
	return strings.Join(parts, " ")
}

// board names the board of a run from what the steps learned.
func board(r runrec.Record) string {
	var parts []string
	for _, k := range []string{step.FactModule, step.FactUSBInstance, step.FactHostname, step.FactIP} {
		if v := r.Facts[k]; v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func runDuration(r runrec.Record) string {
	if r.Ended == nil {
		return "…"
	}
	return r.Ended.Sub(r.Started).Round(time.Second).String()
}

func printRuns(w io.Writer, runs []runrec.Record) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWHEN\tPROFILE\tBOARD\tSTEPS\tOUTCOME\tTOOK")
	for _, r := range runs {
		profile := r.Profile
		if profile == "" {
			profile = "-"
		}
		if r.Sim {
			profile += " (sim)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Started.Local().Format("2006-01-02 15:04"),
			profile, board(r), stepMarks(r), r.Outcome, runDuration(r))
	}
	return tw.Flush()
}

func printRun(w io.Writer, dir string, r *runrec.Record) error {
	fmt.Fprintf(w, "run %s (%s)\n", r.ID, r.Kind)
	fmt.Fprintf(w, "  profile  %s\n", r.Profile)
	fmt.Fprintf(w, "  started  %s, took %s, outcome %s\n", r.Started.Local().Format(time.RFC1123), runDuration(*r), r.Outcome)
	fmt.Fprintf(w, "  host     %s (%s, %s), jetup %s\n", r.Host.Hostname, r.Host.OS, r.Host.Arch, r.JetupVersion)
	if len(r.Facts) > 0 {
		keys := make([]string, 0, len(r.Facts))
		for k := range r.Facts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-8s %s\n", k, r.Facts[k])
		}
	}
	for _, s := range r.Steps {
		fmt.Fprintf(w, "\n%s %s (attempt %d): %s, %s\n", mark(s.Outcome), s.Step, s.Attempt, s.Outcome, s.Duration(time.Now()).Round(time.Second))
		if s.Summary != "" {
			fmt.Fprintf(w, "    %s\n", s.Summary)
		}
		if s.Cause != "" {
			fmt.Fprintf(w, "    cause: %s\n", s.Cause)
		}
		if s.Next != "" {
			fmt.Fprintf(w, "    next:  %s\n", s.Next)
		}
		for _, l := range s.Logs {
			fmt.Fprintf(w, "    log:   %s\n", filepath.Join(dir, l))
		}
	}
	return nil
}
