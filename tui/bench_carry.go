package tui

import (
	"fmt"
	"strings"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// The next board of a bench keeps every answer that was not about the
// board itself: the steps the person skipped, the installer, the push's
// target form (user, key, system, mode), whether the Watch step typed the
// SSH key in and where it was continued. Each step's screen reads the
// carry and does, on its own, what the person did for the board before;
// the one question left is the label (bench_label.go). Nothing is carried
// that vouches for the board: its host key and address are its own.

// answers is what the person chose on this board's screens, kept for the
// next board.
type answers struct {
	push      *deploy.Options // the push's target form, as started
	consoleK  bool            // k typed the SSH key in and asked the host key
	consoleAt string          // the boot stage the Watch step was continued at
	recovered bool            // a board in recovery mode was taken
	verified  bool            // the checks passed and the person went on
}

// benchCarry is what board N+1 keeps from board N.
type benchCarry struct {
	from    string             // "board 1 (run 20261206T...)"
	skip    map[step.ID]string // the steps passed by on their own, and why
	facts   map[string]string
	answers answers
}

// carriedFacts are the facts that are choices, not the board's.
var carriedFacts = []string{step.FactInstaller, step.FactSSHUser, step.FactSSHIdentity}

// skippedByPerson is the summary of a step the person skipped (s).
const skippedByPerson = "skipped by the person"

// carriedSkip starts the summary of a step skipped because the person
// skipped it for the board before.
const carriedSkip = "skipped, as for "

// stickReused starts the summary of a Jetson's Write step after the first
// board's: the same installer stick.
const stickReused = "the installer stick written for "

// carryFrom reads board N's record and answers into the carry.
func carryFrom(board int, p *profiles.Profile, rec runrec.Record, a answers, facts map[string]string) *benchCarry {
	c := &benchCarry{from: fmt.Sprintf("board %d (run %s)", board, rec.ID), skip: map[step.ID]string{},
		facts: map[string]string{}, answers: a}
	for _, k := range carriedFacts {
		if v := facts[k]; v != "" {
			c.facts[k] = v
		}
	}
	last := map[step.ID]runrec.StepRecord{}
	for _, s := range rec.Steps {
		last[s.Step] = s
	}
	for id, s := range last {
		switch {
		case id == step.Doctor:
		case s.Outcome == runrec.Skipped && (s.Summary == skippedByPerson || strings.HasPrefix(s.Summary, carriedSkip)):
			c.skip[id] = carriedSkip + c.from
		case id == step.Write && p != nil && p.Family == profiles.Jetson &&
			(s.Outcome == runrec.Success || s.Outcome == runrec.Skipped && strings.HasPrefix(s.Summary, stickReused)):
			// A Jetson boots the installer from the stick once, to
			// install onto its own disk: the stick moves on to the next
			// board, written once for the bench.
			c.skip[id] = stickReused + c.from + " is used again"
		}
	}
	return c
}

// auto is why entry e is passed by on its own for this board ("" and
// false when the person is asked): a step skipped for the board before,
// or done once for the bench. Each entry is passed by once: going back
// to it (esc) opens it.
func (c *benchCarry) auto(e *entry) (string, bool) {
	if c == nil || e.id == "" || e.carried {
		return "", false
	}
	why, ok := c.skip[e.id]
	return why, ok
}

// said lists the carried choices for the label screen, in words.
func (c *benchCarry) said(order []step.ID) []string {
	var out []string
	if v := c.facts[step.FactInstaller]; v != "" {
		out = append(out, "installer "+v)
	}
	if o := c.answers.push; o != nil {
		sys := o.Closure
		if o.Flake != "" {
			sys = o.Flake
		}
		who := o.Target.User
		if o.Target.Identity != "" {
			who += " with " + o.Target.Identity
		}
		out = append(out, "push "+sys+" as "+who)
	}
	if c.answers.consoleK {
		out = append(out, "SSH key typed in on the console")
	}
	var skipped []string
	for _, id := range order {
		switch why := c.skip[id]; {
		case strings.HasPrefix(why, carriedSkip):
			skipped = append(skipped, titleOf(id))
		case strings.HasPrefix(why, stickReused):
			out = append(out, "the same installer stick")
		}
	}
	if len(skipped) > 0 {
		out = append(out, "skipping "+strings.Join(skipped, ", "))
	}
	if len(out) == 0 {
		out = append(out, "the same profile")
	}
	return out
}
