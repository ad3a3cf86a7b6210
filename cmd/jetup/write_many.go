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

// writeMany writes one image to every --target at once.
func (a *app) writeMany(ctx context.Context, f writeFlags) error {
	return a.writeStep(ctx, &f, func(w writeRun) (runrec.Outcome, string, error) {
		batch, err := image.PrepareBatch(ctx, w.env, f.req, f.targets, w.check, w.sink)
		if err != nil {
			return "", "", err
		}
		if err := a.confirmBatch(batch, f); err != nil {
			return "", "", err
		}
		rcs, err := batch.Execute(ctx, w.sink)
		if rcs != nil {
			a.powerOffMany(ctx, w.hw, batch, rcs, f, w.sink)
			_ = w.rs.SetDetails(media.BatchRecord{Targets: rcs})
			for _, rc := range rcs {
				w.sink.Emit(rc)
			}
			if !a.json {
				for _, l := range media.Results(rcs) {
					fmt.Fprintln(a.stdout, l)
				}
			}
		}
		if err != nil {
			return "", "", err
		}
		names := make([]string, len(rcs))
		for i, rc := range rcs {
			names[i] = rc.Label()
		}
		return runrec.Success, fmt.Sprintf("%s written to %d sticks (%s), verify %s", batch.Plans[0].Image.Name, len(rcs), strings.Join(names, ", "), rcs[0].Verify.Result), nil
	})
}

// confirmBatch shows every stick and what it holds and, without --yes,
// asks for consent to unmount and for every device name to be typed.
func (a *app) confirmBatch(b *media.Batch, f writeFlags) error {
	out := a.stderr
	if !a.json {
		out = a.stdout
	}
	for _, l := range b.Summary() {
		fmt.Fprintln(out, l)
	}
	consent := b.Consent()
	if f.yes {
		if len(consent) > 0 && !f.req.Unmount {
			return step.Refuse(media.CauseMounted, "pass --unmount as well to let jetup unmount them, or unmount them yourself",
				"%s; nothing was written to any of the %d disks", consent[0].What, len(b.Plans))
		}
		return nil
	}
	in := bufio.NewReader(a.stdin)
	if len(consent) > 0 && !f.req.Unmount {
		fmt.Fprintf(a.stderr, "Unmount them? [y/N] ")
		if !yes(readLine(in)) {
			return step.Refuse(media.CauseMounted, "unmount them yourself, or answer y", "%s; nothing was written", consent[0].What)
		}
		b.SetUnmount(true)
	}
	fmt.Fprintf(a.stderr, "Type %s to erase these %d disks: ", b.Confirmation(), len(b.Plans))
	if got := readLine(in); !b.Confirmed(got) {
		return step.Refuse("not-confirmed", "run it again and type every device name, or pass --yes", "not confirmed (typed %q); nothing was written", got)
	}
	return nil
}

// powerOffMany powers off the verified USB sticks and SD cards, asked
// once without --yes, so the technician pulls them.
func (a *app) powerOffMany(ctx context.Context, b hardware.Edges, batch *media.Batch, rcs []*media.Receipt, f writeFlags, sink step.Sink) {
	var ok []int
	for i, rc := range rcs {
		d := batch.Plans[i].Disk
		if rc.Result != "failed" && (d.Transport == media.USB || d.Transport == media.MMC) {
			ok = append(ok, i)
		}
	}
	if len(ok) == 0 {
		return
	}
	if !f.powerOff {
		if f.yes {
			return
		}
		fmt.Fprintf(a.stderr, "Power off the %d written sticks now so they can be pulled? [Y/n] ", len(ok))
		if ans := readLine(bufio.NewReader(a.stdin)); ans != "" && !yes(ans) {
			return
		}
	}
	for _, i := range ok {
		how, err := media.PowerOff(ctx, b.Disks, batch.Plans[i].Disk, sink)
		if err != nil {
			sink.Emit(step.Warning{Warning: err.Error(), Next: step.NextOf(err)})
			continue
		}
		rcs[i].PowerOff = how
	}
}
