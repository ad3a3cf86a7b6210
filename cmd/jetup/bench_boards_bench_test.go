package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/jetup/jetup/runrec"
)

// BenchmarkBenchOfFive is a bench of five Orin Nanos in the wizard against
// the simulated bench at --sim-speed 20, in a real terminal (tmux): the
// first board answered in full, the next four asked only for a label.
// With overlap (the default) a board's push and checks go on in flight
// while the next is labelled, put in recovery mode and flashed; with
// --no-overlap each board ends at its summary before the next starts.
// Boards per hour are over boards 2 to 5 (the first one's figure is the
// person's answering), from board 2's start to the last board's end, as
// `jetup runs --bench` counts them.
func BenchmarkBenchOfFive(b *testing.B) {
	for _, overlap := range []bool{true, false} {
		name := map[bool]string{true: "overlap", false: "one-at-a-time"}[overlap]
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				perHour, span := benchOfFive(b, overlap)
				b.ReportMetric(perHour, "boards/h")
				b.ReportMetric(span.Seconds(), "s/4boards")
			}
		})
	}
}

func benchOfFive(b *testing.B, overlap bool) (float64, time.Duration) {
	home := sshHomeFor(b)
	state := b.TempDir()
	args := []string{"--sim", "--sim-speed", "20", "--state-dir", state, "--profile", "orin-nano-super-devkit"}
	if !overlap {
		args = append(args, "--no-overlap")
	}
	tm := newTmux(b, 100, 30, []string{"TERM=xterm-256color", "HOME=" + home, "SSH_AUTH_SOCK="}, args...)
	firstBoard(tm)
	for n := 2; n <= 5; n++ {
		tm.waitFor("▸ Label", fmt.Sprintf("Board %d of today's bench", n))
		tm.keys("-l", fmt.Sprintf("B%d", n))
		tm.keys("Enter")
		if !overlap {
			tm.waitFor("▸ Summary", fmt.Sprintf("Summary of board %d", n), "all 8 checks passed", "n next board")
			if n < 5 {
				tm.keys("n")
			}
		}
	}
	if overlap {
		tm.waitFor("▸ Label", "Board 6 of today's bench")
		tm.keys("Escape")
	} else {
		tm.keys("Enter")
	}
	tm.waitFor("JETUP-EXIT=0")
	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 5 {
		b.Fatalf("want five runs, got %d (%v)", len(runs), err)
	}
	rep := runrec.Report(runs[1:], runs[1].Started, time.Now())
	if rep.Done != 4 {
		b.Fatalf("boards 2-5: %d done, %d failed", rep.Done, rep.Failed)
	}
	return rep.BoardsPerHour, time.Duration(rep.SpanSeconds * float64(time.Second))
}
