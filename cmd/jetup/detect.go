package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

func (a *app) detectCommand() *cobra.Command {
	var watch, verbose bool
	var sysfsDir string
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Find boards in USB recovery mode",
		Long: `List the NVIDIA Jetson devices on USB: boards in recovery mode (ready to flash),
and the others worth knowing (a board running L4T, the AGX devkit debug MCU, a
flash in progress), with the module, the USB instance the flash takes
(--usb-instance), the link speed and what to fix. Other devices are not listed.

With --profile, a board whose module is not the profile's is flagged and the
profiles that fit it are named. --watch prints one JSON line per device that
appears or disappears until interrupted. --sysfs DIR reads a sysfs tree (DIR or
DIR/bus/usb/devices) instead of this host's USB bus.

Exit status: 0 when a board is in recovery mode (or --watch was interrupted),
2 when none is.`,
		Example: `  jetup detect --profile orin-nano-devkit
  jetup detect --json | jq -r '.[] | select(.mode=="recovery") | .usb_instance'
  jetup detect --watch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.profile(false)
			if err != nil {
				return err
			}
			lister, err := a.usbLister(sysfsDir)
			if err != nil {
				return err
			}
			set, _ := a.loadProfiles()
			opt := detect.Options{Profile: p, Profiles: set.All()}
			return a.recordStep(step.Detect, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
				log, err := rs.OpenLog("log")
				if err != nil {
					return "", "", err
				}
				defer log.Close()
				logSink := log.Stamped()
				if verbose {
					logSink = step.Tee(logSink, step.NewPrinter(a.stderr, false))
				}
				if watch {
					return a.watchDevices(cmd, lister, opt, logSink, rs)
				}
				return a.scanDevices(cmd, lister, opt, logSink, rs)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&watch, "watch", false, "print a JSON line each time a Jetson appears or disappears, until interrupted")
	f.StringVar(&sysfsDir, "sysfs", "", "read USB devices from this sysfs tree instead of the host's bus")
	f.BoolVarP(&verbose, "verbose", "v", false, "print debug notes (devices skipped, fallbacks) to stderr")
	return cmd
}

// usbLister is the bench's USB edge, or a sysfs tree given with --sysfs.
func (a *app) usbLister(sysfsDir string) (detect.Lister, error) {
	if sysfsDir == "" {
		return a.hardware().USB, nil
	}
	dir, err := detect.ResolveSysfsDir(sysfsDir)
	if err != nil {
		return nil, step.Refuse("usage", "pass --sysfs a sysfs root (like /sys) or a devices directory (like /sys/bus/usb/devices)",
			"--sysfs %s: %v", sysfsDir, err)
	}
	if dir == detect.SysfsDevices {
		return detect.NewSysfs(""), nil // the host's own: check its device nodes too
	}
	return detect.NewSysfs(dir), nil
}

func (a *app) scanDevices(cmd *cobra.Command, l detect.Lister, opt detect.Options, logSink step.Sink, rs *runrec.Step) (runrec.Outcome, string, error) {
	devs, err := detect.Scan(cmd.Context(), l, opt, logSink)
	if err != nil {
		return "", "", err
	}
	for _, d := range devs {
		logSink.Emit(step.Log{At: time.Now(), Line: "found " + d.Line()})
	}
	_ = rs.SetDetails(map[string]any{"devices": devs})
	if a.json {
		if err := writeJSON(a.stdout, devs); err != nil {
			return "", "", err
		}
	} else {
		printDevices(a.stdout, devs)
	}
	boards := detect.Boards(devs)
	switch len(boards) {
	case 0:
		_, err := detect.Pick(devs, "", opt.Profile)
		if !a.json {
			// The procedure is the message: keep only the cause and the
			// exit code for the record.
			printProcedure(a.stdout, opt.Profile)
			if se, ok := err.(*step.Error); ok {
				err = &step.Error{Cause: se.Cause, Next: se.Next, Code: se.Code}
			}
		}
		return runrec.Refused, "no board in recovery mode", err
	case 1:
		b := boards[0]
		_ = rs.Run().SetFact(step.FactUSBInstance, b.USBInstance)
		_ = rs.Run().SetFact(step.FactModule, b.Module)
		return runrec.Success, fmt.Sprintf("%s in recovery mode at %s", b.Module, b.USBInstance), nil
	}
	return runrec.Success, fmt.Sprintf("%d boards in recovery mode", len(boards)), nil
}

// watchDevices prints a JSON line per appear or disappear until the command
// is interrupted; warnings about the bus itself go to stderr.
func (a *app) watchDevices(cmd *cobra.Command, l detect.Lister, opt detect.Options, logSink step.Sink, rs *runrec.Step) (runrec.Outcome, string, error) {
	out := step.NewPrinter(a.stdout, true)
	errOut := step.NewPrinter(a.stderr, false)
	var mu sync.Mutex
	var appeared, disappeared int
	var last []detect.Device
	start := time.Now()
	err := detect.Watch(cmd.Context(), l, detect.WatchOptions{Options: opt}, step.Tee(logSink, step.SinkFunc(func(e step.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e := e.(type) {
		case detect.Change:
			out.Emit(e)
			if e.Event == detect.Appear {
				appeared++
			} else {
				disappeared++
			}
		case detect.Snapshot:
			last = e.Devices
		case step.Warning:
			errOut.Emit(e)
		}
	})))
	mu.Lock()
	defer mu.Unlock()
	_ = rs.SetDetails(map[string]any{"appeared": appeared, "disappeared": disappeared, "devices": last})
	summary := fmt.Sprintf("watched %s: %d appeared, %d disappeared", time.Since(start).Round(time.Second), appeared, disappeared)
	return runrec.Success, summary, err
}

// printDevices is the human form: one line per device, then what to fix.
func printDevices(w io.Writer, devs []detect.Device) {
	if len(devs) == 0 {
		fmt.Fprintln(w, "No NVIDIA Jetson device on USB.")
	}
	for _, d := range devs {
		fmt.Fprintln(w, d.Line())
		for _, wn := range d.Warnings {
			fmt.Fprintf(w, "  ! %s\n    next: %s\n", wn.Warning, wn.Next)
		}
		if d.Mode == detect.Recovery && d.CannotTell != "" {
			fmt.Fprintf(w, "  the id cannot tell %s: the profile says it\n", d.CannotTell)
		}
		if d.Mode != detect.Recovery && d.Note != "" {
			fmt.Fprintf(w, "  %s\n", d.Note)
		}
	}
}

// printProcedure says how to put the profile's board in recovery mode.
func printProcedure(w io.Writer, p *profiles.Profile) {
	if p == nil || p.Recovery == nil {
		fmt.Fprintln(w, "\nNo board in USB recovery mode. Pass --profile NAME to see how to put your board in recovery mode.")
		return
	}
	fmt.Fprintf(w, "\nNo board in USB recovery mode. To put the %s in recovery mode:\n", p.Title)
	for i, s := range p.Recovery.Procedure {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s)
	}
	ids := make([]string, len(p.Recovery.USBIDs))
	for i, u := range p.Recovery.USBIDs {
		ids[i] = u.ID
	}
	fmt.Fprintf(w, "It then shows on USB as %s (port: %s).\n`jetup detect --watch` shows it when it appears.\n", strings.Join(ids, " or "), p.Recovery.Port)
}
