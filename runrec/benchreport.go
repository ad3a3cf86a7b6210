package runrec

import (
	"sort"
	"time"

	"github.com/jetup/jetup/step"
)

// What became of a board of the bench (BoardRow.Result).
const (
	BoardDone     = "done"
	BoardFailed   = "failed"
	BoardInFlight = "in-flight" // its run is still open (or jetup died with it open)
	BoardStopped  = "stopped"   // the person stopped before the end
)

// BenchReport is the day at the bench: one row per board, in the order
// they were started, and the day's figures. Field names are the
// `jetup runs --bench --json` format.
type BenchReport struct {
	Since         time.Time  `json:"since"`
	Boards        []BoardRow `json:"boards"`
	Done          int        `json:"done"`
	Failed        int        `json:"failed"`
	InFlight      int        `json:"in_flight"`
	Stopped       int        `json:"stopped"`
	SpanSeconds   float64    `json:"span_seconds"` // first board's start to the last one's end
	BoardsPerHour float64    `json:"boards_per_hour"`
}

// BoardRow is one board: its label, profile, each step's verdict and time,
// and where it failed.
type BoardRow struct {
	Session      string        `json:"session"`
	Board        int           `json:"board"`
	Label        string        `json:"label,omitempty"`
	Profile      string        `json:"profile"`
	Run          string        `json:"run"`
	Sim          bool          `json:"sim,omitempty"`
	Started      time.Time     `json:"started"`
	Ended        *time.Time    `json:"ended,omitempty"`
	Result       string        `json:"result"`
	TotalSeconds float64       `json:"total_seconds"`
	Steps        []StepVerdict `json:"steps"`
	FailedStep   step.ID       `json:"failed_step,omitempty"`
	Cause        string        `json:"cause,omitempty"`
	Failure      string        `json:"failure,omitempty"`
	Next         string        `json:"next,omitempty"`
}

// StepVerdict is a step of a board: its last attempt's outcome, how many
// attempts it took and the time they took together.
type StepVerdict struct {
	Step     step.ID `json:"step"`
	Verdict  Outcome `json:"verdict"`
	Attempts int     `json:"attempts"`
	Seconds  float64 `json:"seconds"`
}

// Report makes the bench report of the bench boards among runs (runs that
// are not a bench session's board are left out). now ends the time of
// what still runs.
func Report(runs []Record, since, now time.Time) BenchReport {
	rep := BenchReport{Since: since, Boards: []BoardRow{}}
	var first, last time.Time
	for _, r := range runs {
		if r.Bench == nil || r.Started.Before(since) {
			continue
		}
		row := boardRow(r, now)
		rep.Boards = append(rep.Boards, row)
		switch row.Result {
		case BoardDone:
			rep.Done++
		case BoardFailed:
			rep.Failed++
		case BoardInFlight:
			rep.InFlight++
		default:
			rep.Stopped++
		}
		end := now
		if r.Ended != nil {
			end = *r.Ended
		}
		if first.IsZero() || r.Started.Before(first) {
			first = r.Started
		}
		if end.After(last) {
			last = end
		}
	}
	sort.SliceStable(rep.Boards, func(i, j int) bool { return rep.Boards[i].Started.Before(rep.Boards[j].Started) })
	if span := last.Sub(first); span > 0 {
		rep.SpanSeconds = span.Seconds()
		rep.BoardsPerHour = float64(rep.Done) / span.Hours()
	}
	return rep
}

func boardRow(r Record, now time.Time) BoardRow {
	row := BoardRow{Session: r.Bench.Session, Board: r.Bench.Board, Label: r.Bench.Label, Profile: r.Profile, Run: r.ID,
		Sim: r.Sim, Started: r.Started, Ended: r.Ended, Steps: []StepVerdict{}}
	end := now
	if r.Ended != nil {
		end = *r.Ended
	}
	row.TotalSeconds = end.Sub(r.Started).Seconds()
	index := map[step.ID]int{}
	for _, s := range r.Steps {
		i, ok := index[s.Step]
		if !ok {
			i = len(row.Steps)
			index[s.Step] = i
			row.Steps = append(row.Steps, StepVerdict{Step: s.Step})
		}
		v := &row.Steps[i]
		v.Verdict, v.Attempts = s.Outcome, v.Attempts+1
		v.Seconds += s.Duration(end).Seconds()
	}
	// The board failed where a step's last attempt failed: a retry that
	// worked is no failure.
	for _, v := range row.Steps {
		if v.Verdict != Failed && v.Verdict != Refused {
			continue
		}
		for j := len(r.Steps) - 1; j >= 0; j-- {
			if s := r.Steps[j]; s.Step == v.Step {
				row.FailedStep, row.Cause, row.Failure, row.Next = s.Step, s.Cause, s.Summary, s.Next
				break
			}
		}
		break
	}
	switch {
	case row.FailedStep != "" || r.Outcome == Failed:
		row.Result = BoardFailed
	case r.Outcome == Running:
		row.Result = BoardInFlight
	case r.Outcome == Success:
		row.Result = BoardDone
	default:
		row.Result = BoardStopped
	}
	return row
}
