package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// activation is what the activation script reported.
type activation struct {
	rc         string // "0", a number, "profile", or "" when it never said
	generation int
	rebooting  bool
	rebootFor  []string // what runs only after a reboot (kernel, initrd, ...)
	confirm    string   // the switch job's directory, when the board waits for a confirmation
	rolledBack string   // why the board switched back by itself (activation failed)
	output     []string // the board's lines, last ones kept
}

// keepLines of at most lineShown bytes: what a board prints is shown and
// kept for the error message clipped (the push log has it whole).
const (
	keepLines = 40
	lineShown = 4 << 10
)

// line takes one output line; it returns false for jetup's own lines.
func (a *activation) line(l string) bool {
	if k, v, ok := remote.Answer(l); ok {
		switch k {
		case "rc":
			a.rc = v
		case "generation":
			a.generation = generationOf(v)
		case "rebooting":
			a.rebooting = true
		case "reboot_needed":
			a.rebootFor = strings.Fields(v)
		case "confirm":
			a.confirm = v
		case "rolled_back":
			a.rolledBack = v
		}
		return false
	}
	a.output = append(a.output, l)
	if len(a.output) > keepLines {
		a.output = a.output[len(a.output)-keepLines:]
	}
	return true
}

// tail is the last n output lines, for an error message.
func (a *activation) tail(n int) string {
	out := a.output
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

// activate tells the waiting board shell to go on, and reads the
// activation's output until the shell ends.
func (p *pusher) activate(ctx context.Context) error {
	mode := p.facts.Mode
	if mode == Installer {
		p.phase(PhaseActivate, "installing: nixos-install --system %s --root /mnt", shortPath(p.res.System))
	} else {
		p.phase(PhaseActivate, "activating: system profile, then switch-to-configuration %s", mode)
	}
	start := time.Now()
	defer func() { p.res.ActivateSeconds = time.Since(start).Seconds() }()
	gate := "go\n"
	if p.o.Reboot {
		gate = "go reboot\n"
	}
	var a activation
	err := p.conn.Send(gate)
	if err == nil {
		for p.out.Scan() {
			// The log takes every line once: an event's text is teed
			// into it (Options.Log), so the raw line goes there only
			// when no event carries it whole.
			raw := p.out.Text()
			l := raw
			if len(l) > lineShown {
				l = strings.ToValidUTF8(l[:lineShown], "") + "…"
			}
			emitted := a.line(l)
			if !emitted || l != raw {
				fmt.Fprintln(p.log, "board: "+raw)
			}
			if emitted {
				p.sink.Emit(RemoteLine{Event: "remote", At: time.Now(), Phase: PhaseActivate, Line: l})
			}
		}
		// The shell said how it ended; only when it did not does the way
		// the connection ended tell.
		if a.rc == "" {
			err = p.conn.Wait()
		}
	}
	p.res.Generation, p.res.Rebooting, p.res.RebootNeeded = a.generation, a.rebooting, a.rebootFor
	tool := "switch-to-configuration " + string(mode)
	if mode == Installer {
		tool = "nixos-install"
	}
	if err != nil && a.rc == "" {
		if errors.Is(err, remote.ErrConnectionLost) && ctx.Err() == nil {
			next := "log in again and check the board (nothing needs sending again); then push again to finish"
			if p.facts.SystemdRun && mode != Installer {
				next = "the activation goes on on the board under systemd-run: log in again and check `systemctl status jetup-switch-to-configuration`, then push again to confirm"
			}
			return &step.Error{Cause: string(CauseConnectionLost), Err: err, What: "the connection dropped during " + tool, Next: next}
		}
		return p.remoteErr(ctx, err, tool)
	}
	switch a.rc {
	case "0":
		if p.o.Reboot && a.rebooting {
			p.phase(PhaseReboot, "the board is rebooting")
		}
		if a.confirm != "" {
			return p.confirm(ctx, a.confirm)
		}
		return nil
	case "profile":
		return step.Errorf(string(CauseActivationFailed), "check the board's free space and its Nix store, then push again",
			"could not set the system profile on the board:\n%s", a.tail(15))
	case "":
		return step.Errorf(string(CauseActivationFailed), "log in and check the board, then push again",
			"%s ended without reporting its status:\n%s", tool, a.tail(15))
	}
	next := "fix what the output says, rebuild the system and push again (the paths already sent stay on the board)"
	if a.rolledBack != "" {
		return &step.Error{Cause: string(CauseActivationFailed), Next: next,
			What: fmt.Sprintf("%s failed on the board (status %s) and the board switched back to its previous system:\n%s", tool, a.rc, a.tail(15))}
	}
	if mode != Installer {
		next += "; to go back: nix-env -p /nix/var/nix/profiles/system --rollback && /nix/var/nix/profiles/system/bin/switch-to-configuration switch"
	}
	return &step.Error{Cause: string(CauseActivationFailed), Next: next,
		What: fmt.Sprintf("%s failed on the board (status %s):\n%s", tool, a.rc, a.tail(15))}
}
