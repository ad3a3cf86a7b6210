package detect

import (
	"context"
	"fmt"
	"strings"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Cause ids of Pick's errors (exit code 2: nothing was touched).
const (
	CauseNoBoard         = "no-recovery-device"
	CauseSeveralBoards   = "several-recovery-devices"
	CauseInstanceMissing = "usb-instance-not-found"
	CauseNotInRecovery   = "usb-instance-not-in-recovery"
)

// Boards returns the devices in recovery mode, in port order.
func Boards(devs []Device) []Device {
	var out []Device
	for _, d := range devs {
		if d.Mode == Recovery {
			out = append(out, d)
		}
	}
	return out
}

// Pick chooses the board to flash: the device at instance when instance is
// given, else the only board in recovery mode. p (may be nil) tailors the
// next step of the errors. Every error is a *step.Error with Code 2.
func Pick(devs []Device, instance string, p *profiles.Profile) (Device, error) {
	boards := Boards(devs)
	if instance != "" {
		for _, d := range devs {
			if d.USBInstance != instance {
				continue
			}
			if d.Mode != Recovery {
				return Device{}, step.Refuse(CauseNotInRecovery, howToRecover(p, devs),
					"the device at USB instance %s is %s (%s), not a board in recovery mode", instance, d.Module, d.Mode)
			}
			return d, nil
		}
		next := howToRecover(p, devs)
		if len(boards) > 0 {
			next = "boards in recovery mode are at: " + instances(boards)
		}
		return Device{}, step.Refuse(CauseInstanceMissing, next, "no Jetson at USB instance %s", instance)
	}
	switch len(boards) {
	case 0:
		return Device{}, step.Refuse(CauseNoBoard, howToRecover(p, devs), "no board in USB recovery mode")
	case 1:
		return boards[0], nil
	}
	return Device{}, step.Refuse(CauseSeveralBoards,
		"choose one with --usb-instance: "+instances(boards)+"; or unplug the others",
		"%d boards are in USB recovery mode", len(boards))
}

// Find scans once and picks the board, as `jetup flash` does before it
// starts: the chosen board's warnings go to sink as step.Warning events.
func Find(ctx context.Context, l Lister, opt Options, instance string, sink step.Sink) (Device, error) {
	if sink == nil {
		sink = step.Discard
	}
	devs, err := Scan(ctx, l, opt, sink)
	if err != nil {
		return Device{}, err
	}
	d, err := Pick(devs, instance, opt.Profile)
	if err != nil {
		return Device{}, err
	}
	for _, w := range d.Warnings {
		sink.Emit(step.Warning{Warning: w.Warning, Next: w.Next})
	}
	return d, nil
}

func instances(ds []Device) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("%s (%s)", d.USBInstance, d.Module)
	}
	return strings.Join(s, ", ")
}

// howToRecover is the next step when no board is in recovery mode: what
// the other Jetson devices on the bus say, then the profile's procedure.
func howToRecover(p *profiles.Profile, devs []Device) string {
	var hints []string
	for _, d := range devs {
		switch d.Mode {
		case BootedL4T:
			hints = append(hints, "a Jetson at "+d.USBInstance+" runs L4T: put it in recovery mode")
		case FlashGadget:
			hints = append(hints, "a flash is in its device phase at "+d.USBInstance+": wait for it to end, or power-cycle the board into recovery mode")
		case DebugMCU:
			hints = append(hints, "the devkit's debug MCU is at "+d.USBInstance+": `boardctl -t topo recovery` puts the board in recovery mode")
		}
	}
	how := "put the board in USB recovery mode and connect its recovery port with a data cable"
	if p != nil && p.Recovery != nil {
		how = fmt.Sprintf("put the %s in USB recovery mode (the steps: `jetup profiles show %s`) with %s connected", p.Title, p.Name, p.Recovery.Port)
	}
	hints = append(hints, how+"; `jetup detect --watch` shows it when it appears")
	return strings.Join(hints, "; ")
}
