package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// writeStation is `jetup write --station`: every USB stick or SD card
// plugged in from now on is written, each as it arrives, until Ctrl-C.
func (a *app) writeStation(ctx context.Context, f writeFlags) error {
	return a.writeStep(ctx, &f, func(w writeRun) (runrec.Outcome, string, error) {
		if _, err := image.CheckWrite(ctx, w.env, f.req, w.check, w.sink); err != nil {
			return "", "", err
		}
		if err := a.confirmStation(&f); err != nil {
			return "", "", err
		}
		st := media.Station{Env: w.env, Req: f.req, PowerOff: true}
		res, err := st.Run(ctx, w.sink)
		if res != nil {
			_ = w.rs.SetDetails(res)
			w.sink.Emit(res)
		}
		if err != nil {
			return "", "", err
		}
		return runrec.Success, fmt.Sprintf("station: %d written, %d failed", res.Written, res.Failed), nil
	})
}

// writeHardware is the bench, with its disks read from --disks-root when
// given (the tests' fake sysfs over loop devices).
func (a *app) writeHardware(f writeFlags) hardware.Edges {
	b := a.hardware()
	if f.disksRoot != "" {
		b.Disks = media.System{Root: f.disksRoot}
	}
	return b
}

// confirmStation says what the station will do and, without --yes, asks
// for "erase" to be typed (and whether to unmount what a desktop mounts).
func (a *app) confirmStation(f *writeFlags) error {
	out := a.stderr
	if !a.json {
		out = a.stdout
	}
	fmt.Fprintf(out, "Station: every USB stick or SD card plugged in from now on is erased and written with %s,\n", f.req.Image)
	fmt.Fprintln(out, "verified, powered off where the reader allows, and shown as \"pull me\". Disks plugged in now, and")
	fmt.Fprintln(out, "any that is not a removable stick or card (or is over 64 GB), are left alone. Ctrl-C stops it.")
	if f.yes {
		return nil
	}
	in := bufio.NewReader(a.stdin)
	if !f.req.Unmount {
		fmt.Fprintf(a.stderr, "Unmount what the desktop mounts on each card as it arrives? [Y/n] ")
		if ans := readLine(in); ans == "" || yes(ans) {
			f.req.Unmount = true
		}
	}
	fmt.Fprintf(a.stderr, "Type erase to start the station: ")
	if got := readLine(in); got != "erase" {
		return step.Refuse("not-confirmed", "run it again and type erase, or pass --yes", "not confirmed (typed %q); nothing was written", got)
	}
	return nil
}

// stationShape is the station's state without its rates: what changes
// when a card arrives, moves on a phase or ends.
func stationShape(p media.StationProgress) string {
	var b strings.Builder
	for _, s := range p.Slots {
		fmt.Fprintf(&b, "%s=%s/%s;", s.Slot, s.Target, s.Phase)
	}
	fmt.Fprintf(&b, "%d/%d/%d", p.Written, p.Failed, len(p.LeftAlone))
	return b.String()
}
