package serialcon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jetup/jetup/step"
)

// Port following: which port a session uses (--port, or the best-ranked
// for the profile, waited for), opening it (waiting while it is missing,
// refusing a busy or forbidden one on the first open) and opening it
// again after an unplug, by its by-id name or its USB identity. What is
// read from an open port is session.go's.

// session opens the port and reads it, reopening it after each unplug.
func (c *Console) session(ctx context.Context) error {
	target, err := c.pick(ctx)
	if err != nil {
		return err
	}
	first := true
	for {
		dev, name, err := c.open(ctx, target, first)
		if err != nil {
			if first && errors.Is(ctx.Err(), context.DeadlineExceeded) && c.opt.Timeout > 0 {
				return step.Refuse(string(CausePortMissing), "plug in the console adapter, check the cable, or name the port with --port",
					"%s never appeared within %s", target.Name(), c.opt.Timeout)
			}
			return err
		}
		now := time.Now()
		ev := Connection{Event: EventConnected, Port: name, At: now, Detail: c.res.Why, Offset: c.bytes}
		if !first {
			ev.Event, ev.Detail = EventReconnected, "the device came back"
			c.res.Reconnects++
		} else {
			c.res.Port = name
			ev.Detail = strings.TrimSpace(c.opt.Config.String() + "; " + c.res.Why)
		}
		c.connection(ev)
		c.mu.Lock()
		c.dev, c.name = dev, name
		c.mu.Unlock()
		if first && len(c.opt.Send) > 0 && c.opt.SendAt == "" {
			c.enqueue(c.opt.Send)
		}
		first = false

		gone := c.read(ctx, dev)
		if gone == nil && c.matched {
			c.drainWrites()
		}
		c.mu.Lock()
		c.dev, c.name = nil, ""
		c.mu.Unlock()
		_ = dev.Close()
		// The line in progress is ended where the device went away, so the
		// log shows exactly what arrived before the mark.
		c.cook.flush()
		c.logged = ""
		if gone == nil {
			return ctx.Err()
		}
		c.connection(Connection{Event: EventDisconnected, Port: name, At: time.Now(), Detail: gone.Error(), Offset: c.bytes})
		if c.opt.NoReconnect {
			return step.Errorf(string(CausePortGone), "check the cable and run again", "%s went away: %v", name, gone)
		}
	}
}

// connection records a connect or disconnect: event, result and log mark.
func (c *Console) connection(ev Connection) {
	c.res.Connections = append(c.res.Connections, ev)
	c.em.event(ev)
	mark := fmt.Sprintf("%s %s", ev.Event, ev.Port)
	if ev.Detail != "" {
		mark += " (" + ev.Detail + ")"
	}
	if ev.Event == EventConnected {
		mark = fmt.Sprintf("connected to %s (%s)", ev.Port, ev.Detail)
	}
	c.text.marker(ev.At, mark)
}

// target is the port a session follows: a name to reopen and, for USB
// ports, the identity to find it by when it comes back under another name.
type target struct {
	PortInfo
	explicit bool
}

// pick resolves --port, or waits for the best-ranked port for the profile.
func (c *Console) pick(ctx context.Context) (target, error) {
	if c.opt.Port != "" {
		t := target{PortInfo: PortInfo{Path: c.opt.Port, Interface: -1}, explicit: true}
		if strings.HasPrefix(c.opt.Port, "/dev/serial/by-id/") {
			t.ByID = c.opt.Port
		}
		if ports, err := c.opt.Ports.List(); err == nil {
			for _, p := range ports {
				if p.Path == c.opt.Port || (p.ByID != "" && p.ByID == c.opt.Port) || sameNode(p.Path, c.opt.Port) {
					t.PortInfo, t.Path = p, c.opt.Port
					if p.ByID == c.opt.Port {
						t.Path = p.Path
					}
					if isFlashGadget(p) {
						c.em.event(step.Warning{At: time.Now(), Warning: c.opt.Port + " is the jetpack-nixos flash gadget, not the board's console",
							Next: "connect the debug console (see `jetup profiles show`) and use that port"})
					}
				}
			}
		}
		c.res.Why = "named with --port"
		return t, nil
	}
	said := false
	for {
		ports, err := c.opt.Ports.List()
		if err != nil {
			return target{}, step.Refuse(string(CausePortList), "check that /sys and /dev are readable, or name the port with --port", "%v", err)
		}
		cands := Rank(ports, c.opt.Profile)
		if best, ties, ok := Best(cands); ok {
			c.res.Why = best.Why
			if ties > 0 {
				var others []string
				for _, o := range cands[1 : ties+1] {
					others = append(others, o.Port.Name())
				}
				c.em.event(step.Warning{At: time.Now(), Warning: fmt.Sprintf("%d ports fit equally well; using %s", ties+1, best.Port.Name()),
					Next: "pass --port to use another: " + strings.Join(others, ", ")})
			}
			return target{PortInfo: best.Port}, nil
		}
		if !said {
			what := "a serial console"
			if c.opt.Profile != nil {
				what = fmt.Sprintf("the console of %s (%s)", c.opt.Profile.Title, c.opt.Profile.Console.Connection)
			}
			detail := "no serial port fits yet; plug in " + what
			var others []string
			for _, o := range cands {
				if !o.Excluded {
					others = append(others, o.Port.Name())
				}
			}
			if len(others) > 0 {
				detail += "; or name one of " + strings.Join(others, ", ") + " with --port"
			}
			c.em.event(Connection{Event: EventWaiting, At: time.Now(), Detail: detail})
			said = true
		}
		if !sleepCtx(ctx, c.opt.Poll) {
			return target{}, c.noPort(ctx)
		}
	}
}

func (c *Console) noPort(ctx context.Context) error {
	if c.opt.Timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return step.Refuse(string(CauseNoPort), "plug in the console adapter (see `jetup profiles show`), or name the port with --port",
			"no serial port for the board appeared within %s", c.opt.Timeout)
	}
	return ctx.Err()
}

// sameNode reports whether two paths are the same device node.
func sameNode(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// locate finds the target now: its by-id name if present, else a port with
// its USB identity, else its path.
func (c *Console) locate(t target) string {
	if t.ByID != "" && exists(t.ByID) {
		return t.ByID
	}
	if t.USB && t.Serial != "" {
		if ports, err := c.opt.Ports.List(); err == nil {
			for _, p := range ports {
				if t.sameDevice(p) {
					return p.Name()
				}
			}
		}
	}
	if t.explicit && exists(c.opt.Port) {
		return c.opt.Port
	}
	if exists(t.Path) {
		return t.Path
	}
	return ""
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// permissionGrace is how long a permission error is retried: udev sets a
// new node's group a moment after it appears.
const permissionGrace = 3 * time.Second

// open opens the target, waiting while it is missing. The first open fails
// at once when the port is busy or refused; a reopen after an unplug keeps
// trying (ModemManager probes a new ttyACM for a few seconds).
func (c *Console) open(ctx context.Context, t target, first bool) (Device, string, error) {
	said := false
	var refusedSince time.Time
	for {
		if path := c.locate(t); path != "" {
			cfg := c.opt.Config
			cfg.KeepInput = !first
			dev, err := c.opt.Ports.Open(path, cfg)
			if err == nil {
				return dev, path, nil
			}
			var oe *OpenError
			if !errors.As(err, &oe) {
				oe = &OpenError{Path: path, Cause: CausePortInvalid, Err: err}
			}
			switch oe.Cause {
			case CausePortMissing:
			case CausePortPermission:
				if refusedSince.IsZero() {
					refusedSince = time.Now()
				}
				if first && time.Since(refusedSince) > permissionGrace {
					return nil, "", openRefusal(oe)
				}
			default:
				if first {
					return nil, "", openRefusal(oe)
				}
			}
		}
		if !said {
			c.em.event(Connection{Event: EventWaiting, Port: t.Name(), At: time.Now(),
				Detail: fmt.Sprintf("waiting for %s to appear", t.Name())})
			said = true
		}
		if !sleepCtx(ctx, c.opt.Poll) {
			return nil, "", ctx.Err()
		}
	}
}

// openRefusal turns an OpenError into the step error the person sees
// (exit code 2: nothing was read).
func openRefusal(oe *OpenError) error {
	next := "check the port name with `jetup console --list`"
	switch oe.Cause {
	case CausePortBusy:
		next = "close the other program (picocom, minicom, screen, tio, another jetup) and run again"
		if strings.Contains(oe.Holder, "ModemManager") {
			next = "ModemManager is probing the port: run `jetup doctor --fix` to keep it away from the board, or wait a few seconds"
		}
	case CausePortPermission:
		next = "add yourself to the serial group (`jetup doctor --fix`, then log in again), or run with sudo"
	}
	e := step.Refuse(string(oe.Cause), next, "%s", oe.Error())
	e.Err = oe
	e.What = oe.Error()
	return e
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
