package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

type writeFlags struct {
	req      media.Request
	targets  []string
	yes      bool
	list     bool
	powerOff bool
	// ignoreBoard writes an image the profile's board cannot boot.
	ignoreBoard bool
	// station writes every stick plugged in from now on (--station).
	station bool
	// disksRoot reads the disks from a tree (sys/, proc/, dev/) instead
	// of the machine's: the tests' fake sysfs over loop devices.
	disksRoot string
}

func (a *app) writeCommand() *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "write",
		Short: "Write the installer to a USB stick or SD card, verified",
		Long: `Write an installer image to a USB stick or SD card: never to the system disk, the
disk holding the image, or (without --allow-fixed) a disk that is not a USB stick
or SD card. Raw, zstd, xz, gzip and bzip2 images are told apart by their first
bytes. A checksum (--sha256, IMAGE.sha256 or SHA256SUMS beside the image) is
checked before the disk is touched; a .bmap beside the image (or --bmap) limits
the write to the mapped blocks. Everything written is read back and compared.

Several --target flags write several sticks at once: the image is read and
decompressed once, every stick has its own queue and its own verify, and one
stick that fails (an I/O error, pulled out) is closed off while the others go
on. Every safety rule applies to each stick: one refused refuses them all
before anything is written. --json prints one receipt per stick.

--station writes every USB stick or SD card plugged in from now on, each as
it arrives, until Ctrl-C: only removable sticks and cards of at most 64 GB
that pass every rule; disks plugged in before it starts, and anything else,
are listed and left alone. A verified card is powered off where the reader
allows and shown as "pull me"; the end counts written and failed cards, each
with its serial.

Without --image the profile's installer is built with nix (--profile);
offline (--offline, or a host with no route out) it comes from the newest whole
field kit for the profile (jetup prepare), and with none the write is refused
(exit 2) before anything starts.
The
image is inspected first (as jetup inspect does) and, with --profile, checked
against the board: what it cannot boot (a pure GPT on a Pi 3B, a Pi 4 image
with neither Pi firmware nor the RPi UEFI firmware, an installer ISO of
another JetPack) is refused unless --ignore-board-check; the rest are
warnings with the next step. A .wic (or .wic.img) uses NAME.wic.bmap.
Without --yes you are shown what will be erased and asked to type the device's
name.

Exit status: 0 written and verified (every stick; with --station, no card
failed), 1 failed (any stick), 2 refused before writing.`,
		Example: `  jetup write --list
  jetup write --image nixos-sd-image.img.zst --target /dev/sdb
  jetup write --image nixos-sd-image.img.zst --target sdb --target sdc --target sdd
  jetup write --image nixos-sd-image.img.zst --station --unmount
  jetup --profile orin-nano-devkit write --target sdb --yes --unmount --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.list {
				return a.writeList(cmd.Context(), f)
			}
			if f.station {
				if len(f.targets) > 0 {
					return step.Refuse("usage", "drop --target: the station takes each stick as it is plugged in", "--station and --target do not go together")
				}
				return a.writeStation(cmd.Context(), f)
			}
			if len(f.targets) > 1 {
				return a.writeMany(cmd.Context(), f)
			}
			if len(f.targets) == 1 {
				f.req.Target = f.targets[0]
			}
			return a.write(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.req.Image, "image", "", "image file to write (default: build the profile's installer)")
	fl.StringArrayVar(&f.targets, "target", nil, "disk to erase: /dev/sdb, sdb or a /dev/disk/by-id link; repeat it to write several sticks at once")
	fl.StringVar(&f.req.SHA256, "sha256", "", "SHA-256 the image (file or uncompressed) must have")
	fl.StringVar(&f.req.Bmap, "bmap", "", "bmaptool block map (default: IMAGE.bmap beside the image)")
	fl.BoolVar(&f.req.NoBmap, "no-bmap", false, "write the whole image even when a .bmap is beside it")
	fl.BoolVar(&f.req.NoVerify, "no-verify", false, "do not read the disk back after writing")
	fl.BoolVar(&f.req.AllowFixed, "allow-fixed", false, "allow disks that are not USB sticks or SD cards (loop devices, internal disks)")
	fl.BoolVar(&f.req.Unmount, "unmount", false, "unmount the target's mounted partitions without asking")
	fl.BoolVar(&f.yes, "yes", false, "do not ask: erase the target")
	fl.BoolVar(&f.powerOff, "power-off", false, "power the stick off when done (asked without --yes)")
	fl.BoolVar(&f.ignoreBoard, "ignore-board-check", false, "write an image the profile's board cannot boot (pure GPT on a Pi 3, no Pi firmware, another JetPack's ISO)")
	fl.BoolVar(&f.list, "list", false, "list the disks: candidates, and why every other one is excluded")
	fl.BoolVar(&f.station, "station", false, "write every USB stick or SD card plugged in from now on, each as it arrives, until Ctrl-C")
	fl.StringVar(&f.disksRoot, "disks-root", "", "read the disks from this tree (sys/, proc/, dev/) instead of the machine's (tests)")
	_ = fl.MarkHidden("disks-root")
	return cmd
}

func (a *app) writeSink(rs *runrec.Step) (step.Sink, func()) {
	var sinks []step.Sink
	if a.json {
		sinks = append(sinks, step.NewPrinter(a.stdout, true))
	} else {
		sinks = append(sinks, step.SinkFunc(func(e step.Event) {
			if _, ok := e.(step.Log); ok {
				return // build logs go to the log file; the stages say enough
			}
			step.NewPrinter(a.stdout, false).Emit(e)
		}))
	}
	// Without its log the write goes on; Tee says the log is missing.
	log, _ := rs.OpenLog("log")
	// Progress four times a second is for screens; the text face prints
	// it once a second.
	return throttleProgress(log.Tee(step.Tee(sinks...)), a.json), func() { _ = log.Close() }
}

// throttleProgress keeps every event but Progress, which it passes at most
// once a second per phase (and always at the phase's end) in text mode.
func throttleProgress(s step.Sink, asJSON bool) step.Sink {
	if asJSON {
		return s
	}
	last := map[string]int64{}
	lastShape := ""
	return step.SinkFunc(func(e step.Event) {
		switch p := e.(type) {
		case media.TargetsProgress:
			// Several sticks: one line a second for all of them.
			sec := p.At.Unix()
			if last["targets"] == sec {
				return
			}
			last["targets"] = sec
		case media.StationProgress:
			// A line when something changed, and once a second while a
			// card is written.
			shape := stationShape(p)
			if shape == lastShape && (p.Rate == 0 || last["station"] == p.At.Unix()) {
				return
			}
			lastShape, last["station"] = shape, p.At.Unix()
		case media.Progress:
			if p.Target != "" {
				return // said by TargetsProgress
			}
			sec := p.At.Unix()
			if last[p.Phase] == sec && p.Done != p.Total {
				return
			}
			last[p.Phase] = sec
		case media.BuildProgress:
			sec := p.At.Unix()
			if last[p.Phase] == sec && !p.Done {
				return
			}
			last[p.Phase] = sec
		}
		s.Emit(e)
	})
}

// writeRun is what a write (one stick, several, the station) has once
// its image is known.
type writeRun struct {
	rs    *runrec.Step
	hw    hardware.Edges
	env   media.Env
	check image.BoardCheck // the profile's board, unless --ignore-board-check
	sink  step.Sink        // the face and the step's log
}

// writeStep is the part every write shares: a write step in the run
// record with its log, the profile's traps for it, and the image
// (--image, else the profile's installer, which offline comes from a kit
// or is refused before anything starts), then do with f.req.Image set.
func (a *app) writeStep(ctx context.Context, f *writeFlags, do func(w writeRun) (runrec.Outcome, string, error)) error {
	prof, err := a.profile(false)
	if err != nil {
		return err
	}
	b := a.writeHardware(*f)
	return a.recordStep(step.Write, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
		sink, closeLog := a.writeSink(rs)
		defer closeLog()
		if prof != nil {
			emitTraps(sink, prof, step.Write)
		}
		if f.req.Image == "" {
			if prof == nil {
				return "", "", step.Refuse("no-image", "pass --image FILE, or --profile NAME to build the profile's installer", "no image to write")
			}
			if err := a.needKit(ctx, prof, kit.Installer); err != nil {
				return "", "", err
			}
			path, err := b.Installer.Build(ctx, prof.Installer, sink)
			if err != nil {
				return "", "", err
			}
			f.req.Image = path
		}
		_ = rs.Run().SetFact(step.FactInstaller, f.req.Image)
		return do(writeRun{rs: rs, hw: b, env: media.Env{Edge: b.Disks, Runner: b.UnprivilegedRunner()},
			check: image.BoardCheck{Profile: prof, Ignore: f.ignoreBoard}, sink: sink})
	})
}

func (a *app) write(ctx context.Context, f writeFlags) error {
	return a.writeStep(ctx, &f, func(w writeRun) (runrec.Outcome, string, error) {
		plan, err := image.PrepareWrite(ctx, w.env, f.req, w.check, w.sink)
		if err != nil {
			return "", "", err
		}
		if err := a.confirmWrite(plan, f); err != nil {
			return "", "", err
		}
		rc, err := plan.Execute(ctx, w.sink)
		if rc != nil {
			if err == nil {
				a.offerPowerOff(ctx, w.hw, plan, rc, f, w.sink)
			}
			_ = w.rs.SetDetails(rc)
			w.sink.Emit(rc)
		}
		if err != nil {
			return "", "", err
		}
		return runrec.Success, fmt.Sprintf("%s written to %s (%s), verify %s", plan.Image.Name, plan.Disk.Path, plan.Disk.Description(), rc.Verify.Result), nil
	})
}

// confirmWrite shows what will be erased and, without --yes, asks for the
// device's name to be typed (and for consent to unmount).
func (a *app) confirmWrite(p *media.Plan, f writeFlags) error {
	out := a.stderr
	if !a.json {
		out = a.stdout
	}
	for _, l := range p.Summary() {
		fmt.Fprintln(out, l)
	}
	if f.yes {
		if len(p.Consent) > 0 && !f.req.Unmount {
			return step.Refuse(media.CauseMounted, "pass --unmount as well to let jetup unmount them, or unmount them yourself", "%s", p.Consent[0].What)
		}
		return nil
	}
	in := bufio.NewReader(a.stdin)
	if len(p.Consent) > 0 && !f.req.Unmount {
		fmt.Fprintf(a.stderr, "Unmount them? [y/N] ")
		if !yes(readLine(in)) {
			return step.Refuse(media.CauseMounted, "unmount them yourself, or answer y", "%s; nothing was written", p.Consent[0].What)
		}
		p.Req.Unmount = true
	}
	fmt.Fprintf(a.stderr, "Type %s to erase %s (%s): ", p.Confirmation(), p.Disk.Path, p.Disk.Description())
	if got := readLine(in); got != p.Confirmation() && got != p.Disk.Path {
		return step.Refuse("not-confirmed", "run it again and type the device name exactly, or pass --yes", "not confirmed (typed %q); nothing was written", got)
	}
	return nil
}

func (a *app) offerPowerOff(ctx context.Context, b hardware.Edges, p *media.Plan, rc *media.Receipt, f writeFlags, sink step.Sink) {
	if p.Disk.Transport != media.USB && p.Disk.Transport != media.MMC {
		return
	}
	if !f.powerOff {
		if f.yes {
			return
		}
		fmt.Fprintf(a.stderr, "Power off %s now so it can be pulled? [Y/n] ", p.Disk.Path)
		if ans := readLine(bufio.NewReader(a.stdin)); ans != "" && !yes(ans) {
			return
		}
	}
	how, err := media.PowerOff(ctx, b.Disks, p.Disk, sink)
	if err != nil {
		sink.Emit(step.Warning{Warning: err.Error(), Next: step.NextOf(err)})
		return
	}
	rc.PowerOff = how
}

// readLine reads an answer: one line, of which 4 KiB are kept (a pipe
// with no newline costs no more), the rest of it read and dropped.
func readLine(r *bufio.Reader) string {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk[:min(len(chunk), max(0, 4<<10-len(line)))]...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			return ""
		}
		return strings.TrimSpace(string(line))
	}
}

func yes(s string) bool { return strings.EqualFold(s, "y") || strings.EqualFold(s, "yes") }

// listEntry is one disk in `jetup write --list --json`.
type listEntry struct {
	media.Disk
	Reasons []media.Reason `json:"reasons,omitempty"`
	// Holds is what a candidate holds now (its partition table and file
	// systems), when it could be read.
	Holds *media.Contents `json:"holds,omitempty"`
}

func (a *app) writeList(ctx context.Context, f writeFlags) error {
	var im *media.Image
	if f.req.Image != "" {
		var err error
		if im, err = media.Inspect(f.req.Image); err != nil {
			return err
		}
	}
	ds, reasons, err := media.ListDisks(ctx, a.writeHardware(f).Disks, im, media.Constraints{AllowFixed: f.req.AllowFixed})
	if err != nil {
		return err
	}
	var cands, excl []listEntry
	for i, d := range ds {
		e := listEntry{Disk: d, Reasons: reasons[i]}
		if len(media.Blocking(reasons[i])) == 0 {
			e.Holds = media.ReadContents(ctx, a.writeHardware(f).Disks, d)
			cands = append(cands, e)
		} else {
			excl = append(excl, e)
		}
	}
	if a.json {
		return writeJSON(a.stdout, map[string][]listEntry{"candidates": nonNil(cands), "excluded": nonNil(excl)})
	}
	w := a.stdout
	fmt.Fprintln(w, "Candidates:")
	if len(cands) == 0 {
		fmt.Fprintln(w, "  none: plug in a USB stick or SD card (loop devices and internal disks need --allow-fixed)")
	}
	for _, e := range cands {
		fmt.Fprintf(w, "  %-14s %s  serial %s\n", e.Path, e.Description(), orDash(e.Serial))
		for _, r := range e.Reasons {
			fmt.Fprintf(w, "  %-14s note: %s\n", "", r.What)
		}
		if e.Holds != nil {
			for _, l := range e.Holds.Lines() {
				fmt.Fprintf(w, "  %-14s holds: %s\n", "", l)
			}
		}
	}
	if len(excl) > 0 {
		fmt.Fprintln(w, "Excluded:")
	}
	for _, e := range excl {
		fmt.Fprintf(w, "  %-14s %s\n", e.Path, e.Description())
		for _, r := range media.Blocking(e.Reasons) {
			fmt.Fprintf(w, "  %-14s %s: %s\n", "", r.Cause, r.What)
		}
	}
	return nil
}

func nonNil(l []listEntry) []listEntry {
	if l == nil {
		return []listEntry{}
	}
	return l
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
