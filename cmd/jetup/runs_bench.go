package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// `jetup runs --bench`: the boards of the day at the bench, one row each,
// and the day's figures; CSV for the lab's spreadsheet.

// benchReport prints the bench boards started since since.
func (a *app) benchReport(state string, since time.Time, asCSV bool) error {
	runs, bad, err := runrec.ListSince(state, since)
	if err != nil {
		return step.Errorf("state-dir", "pass --state-dir with the directory jetup wrote its runs to", "cannot read runs: %v", err)
	}
	for _, e := range bad {
		fmt.Fprintf(a.stderr, "jetup: skipping a damaged run: %v\n", e)
	}
	var mine []runrec.Record
	for _, r := range runs {
		if a.profileName == "" || r.Profile == a.profileName {
			mine = append(mine, r)
		}
	}
	rep := runrec.Report(mine, since, time.Now())
	switch {
	case a.json:
		return writeJSON(a.stdout, rep)
	case asCSV:
		return writeBenchCSV(a.stdout, rep)
	}
	if len(rep.Boards) == 0 {
		fmt.Fprintf(a.stdout, "No bench boards since %s in %s.\n", since.Local().Format("Mon 2 Jan 15:04"), a.stateDir)
		return nil
	}
	return printBench(a.stdout, rep)
}

// parseSince reads --since: a date (2026-11-21, that day from midnight,
// local time), a date and time (2026-11-21T08:00 or RFC 3339), "today",
// "yesterday", or a duration back from now (90m, 12h).
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "today":
		return runrec.StartOfDay(now), nil
	case "yesterday":
		return runrec.StartOfDay(runrec.StartOfDay(now).Add(-time.Hour)), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, step.Refuse("usage", "give a date (2026-11-21), a date and time (2026-11-21T08:00), today, yesterday or a duration (12h)",
		"--since %q is not a time", s)
}

// short is a duration the way a bench sheet shows it: 4s, 1m35s, 2h3m.
func short(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	if d >= time.Hour {
		d = d.Round(time.Minute)
		return strings.TrimSuffix(d.String(), "0s")
	}
	return d.String()
}

func printBench(w io.Writer, rep runrec.BenchReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tLABEL\tPROFILE\tSTEPS\tTOTAL\tRESULT")
	for i, b := range rep.Boards {
		label := b.Label
		if label == "" {
			label = "-"
		}
		profile := b.Profile
		if b.Sim {
			profile += " (sim)"
		}
		steps := make([]string, len(b.Steps))
		for j, s := range b.Steps {
			steps[j] = fmt.Sprintf("%s%s %s", s.Step, mark(s.Verdict), short(s.Seconds))
			if s.Attempts > 1 {
				steps[j] = fmt.Sprintf("%s%s×%d %s", s.Step, mark(s.Verdict), s.Attempts, short(s.Seconds))
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, label, profile, strings.Join(steps, " "), short(b.TotalSeconds), b.Result)
		if b.Result == runrec.BoardFailed {
			why := b.Failure
			if b.Cause != "" {
				why = b.Cause + ": " + why
			}
			fmt.Fprintf(tw, "\t\t✗ %s %s\t\t\t\n", stepOrDash(b.FailedStep), why)
			if b.Next != "" {
				fmt.Fprintf(tw, "\t\t  next: %s\t\t\t\n", b.Next)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, benchTotals(rep))
	return err
}

// benchTotals is the report's last line.
func benchTotals(rep runrec.BenchReport) string {
	s := fmt.Sprintf("%d boards: %d done, %d failed", len(rep.Boards), rep.Done, rep.Failed)
	if rep.InFlight > 0 {
		s += fmt.Sprintf(", %d in flight", rep.InFlight)
	}
	if rep.Stopped > 0 {
		s += fmt.Sprintf(", %d stopped", rep.Stopped)
	}
	return s + fmt.Sprintf(" · %.1f boards per hour over %s", rep.BoardsPerHour, short(rep.SpanSeconds))
}

// benchSteps are the CSV's step columns, in the order a board meets them.
var benchSteps = []step.ID{step.Doctor, step.Detect, step.Flash, step.Write, step.Console, step.Push, step.Verify}

// writeBenchCSV writes the report for a spreadsheet: one row a board,
// each step's verdict and seconds in their own columns, and a last row
// with the totals and boards per hour.
func writeBenchCSV(w io.Writer, rep runrec.BenchReport) error {
	cw := csv.NewWriter(w)
	head := []string{"session", "board", "label", "profile", "sim", "run", "started", "result", "total_s"}
	for _, id := range benchSteps {
		head = append(head, string(id), string(id)+"_s")
	}
	head = append(head, "failed_step", "cause", "failure", "next", "boards_per_hour")
	if err := cw.Write(head); err != nil {
		return err
	}
	secs := func(f float64) string { return strconv.FormatFloat(float64(int64(f+0.5)), 'f', 0, 64) }
	for _, b := range rep.Boards {
		row := []string{cell(b.Session), strconv.Itoa(b.Board), cell(b.Label), cell(b.Profile), strconv.FormatBool(b.Sim), cell(b.Run),
			b.Started.Local().Format(time.RFC3339), cell(b.Result), secs(b.TotalSeconds)}
		for _, id := range benchSteps {
			verdict, took := "", ""
			for _, s := range b.Steps {
				if s.Step == id {
					verdict, took = cell(string(s.Verdict)), secs(s.Seconds)
				}
			}
			row = append(row, verdict, took)
		}
		row = append(row, cell(string(b.FailedStep)), cell(b.Cause), cell(b.Failure), cell(b.Next), "")
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	total := make([]string, len(head))
	total[2] = "total"
	if len(rep.Boards) > 0 {
		total[6] = rep.Boards[0].Started.Local().Format(time.RFC3339)
	}
	total[7] = fmt.Sprintf("%d done, %d failed", rep.Done, rep.Failed)
	total[8] = secs(rep.SpanSeconds)
	total[len(total)-1] = strconv.FormatFloat(rep.BoardsPerHour, 'f', 2, 64)
	if err := cw.Write(total); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// cell makes a string safe for a spreadsheet: no escape sequences or
// control characters (safe.Text), and a cell a spreadsheet would run as
// a formula (it starts with = + - @, or a tab or carriage return, OWASP's
// CSV injection list) starts with a ' instead.
func cell(s string) string {
	s = safe.Text(s)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func stepOrDash(id step.ID) string {
	if id == "" {
		return "-"
	}
	return string(id)
}
