package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jetup/jetup/disklabel"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// Request is what the person asked for (`jetup write` flags or the TUI).
type Request struct {
	Image  string `json:"image"`
	Bmap   string `json:"bmap,omitempty"`
	NoBmap bool   `json:"no_bmap,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Target is "/dev/sdb", "sdb" or a /dev/disk/by-* link.
	Target     string `json:"target"`
	AllowFixed bool   `json:"allow_fixed,omitempty"`
	NoVerify   bool   `json:"no_verify,omitempty"`
	// Unmount is the person's consent to unmount the target's partitions.
	Unmount bool `json:"unmount,omitempty"`
	// Chunk and Writers tune the pipeline (0: defaults).
	Chunk   int `json:"-"`
	Writers int `json:"-"`
	// Buffer bounds, with several targets, how far (bytes) the decoder
	// runs ahead of the slowest (0: DefaultBuffer).
	Buffer int64 `json:"-"`
}

// Env is the hardware a write uses.
type Env struct {
	Edge Edge
	// Runner starts the decompressors (xz, lbzip2). They need no root:
	// under sudo, give one that runs as the person who ran sudo.
	Runner proc.Runner
}

// Plan is a write that passed every check that needs no consent: the image,
// its checksum and bmap, the target and what is on it now.
type Plan struct {
	Req      Request
	Image    *Image
	Checksum *Checksum
	Bmap     *Bmap
	Disk     Disk
	Identity Identity
	// Consent lists the reasons the person must agree to (mounted
	// partitions to unmount).
	Consent []Reason
	// Contents is what the target holds now: what will be erased.
	Contents *Contents
	// Notes are shown with the summary: what the image holds and the board
	// check's warnings (image.PrepareWrite fills them).
	Notes []string
	// NeedsTypedName is true when the confirmation must be the device's
	// name typed out: disks over 64 GB and fixed disks.
	NeedsTypedName bool
	env            Env
	// checked is true when the checksum was checked already, once for
	// every card of a station: Execute does not read the image again.
	checked bool
}

// TypedNameOver is the size above which the person types the device name.
const TypedNameOver = 64_000_000_000

// ListDisks lists the disks with the reasons each may not be written, for
// the given image (nil: rules about the image are left out).
func ListDisks(ctx context.Context, edge Edge, im *Image, c Constraints) ([]Disk, [][]Reason, error) {
	ds, err := edge.Disks(ctx)
	if err != nil {
		return nil, nil, step.Errorf("disk-list", "check that /sys is mounted", "%v", err)
	}
	if im != nil {
		if c.ImageSize == 0 {
			c.ImageSize = im.MinSize
		}
		c.ImagePath = im.Path
		if dev, err := fileDev(im.Path); err == nil {
			c.ImageDevs = append(c.ImageDevs, dev)
		}
	}
	reasons := make([][]Reason, len(ds))
	for i := range ds {
		reasons[i] = Check(&ds[i], c)
	}
	return ds, reasons, nil
}

// Prepare checks everything that can be checked without consent and
// without touching the target: the image, the bmap, the checksum source,
// the target's identity and the safety rules. Refusals are *step.Error
// with exit code 2.
func Prepare(ctx context.Context, env Env, req Request, sink step.Sink) (*Plan, error) {
	im, err := prepareImage(env, req)
	if err != nil {
		return nil, err
	}
	if req.Target == "" {
		return nil, step.Refuse("no-target", "pass --target DEV; `jetup write --list` shows the candidates", "no target disk given")
	}
	ds, reasons, err := ListDisks(ctx, env.Edge, im.Image, im.constraints())
	if err != nil {
		return nil, err
	}
	i, err := findTarget(ds, req.Target)
	if err != nil {
		return nil, err
	}
	return im.forDisk(ctx, ds[i], reasons[i])
}

// prepareImage checks the image, its bmap and its checksum source: a plan
// with no disk yet.
func prepareImage(env Env, req Request) (*Plan, error) {
	if req.Image == "" {
		return nil, step.Refuse("no-image", "pass --image FILE, or --profile NAME to build the profile's installer", "no image to write")
	}
	im, err := Inspect(req.Image)
	if err != nil {
		return nil, err
	}
	p := &Plan{Req: req, Image: im, env: env}
	if !req.NoBmap {
		if path := FindBmap(im, req.Bmap); path != "" {
			b, err := LoadBmap(path)
			if err != nil {
				return nil, err
			}
			if err := b.checkImage(im); err != nil {
				return nil, err
			}
			p.Bmap = b
		}
	}
	if p.Checksum, err = FindChecksum(im, req.SHA256); err != nil {
		return nil, err
	}
	return p, nil
}

// constraints are the rules' view of the image (ListDisks adds the
// image file's own disk).
func (p *Plan) constraints() Constraints {
	c := Constraints{AllowFixed: p.Req.AllowFixed, ImageSize: p.Image.MinSize}
	if p.Bmap != nil {
		c.ImageSize = p.Bmap.ImageSize
		if dev, err := fileDev(p.Bmap.Path); err == nil {
			c.ImageDevs = append(c.ImageDevs, dev)
		}
	}
	return c
}

// forDisk is the image plan aimed at disk d, refused when a rule no
// consent lifts forbids it.
func (p *Plan) forDisk(ctx context.Context, d Disk, reasons []Reason) (*Plan, error) {
	if block := Blocking(reasons); len(block) > 0 {
		return nil, refusal(block)
	}
	q := *p
	q.Disk = d
	q.Identity = d.Identity()
	q.Consent = reasons
	q.NeedsTypedName = d.Size > TypedNameOver || d.Fixed()
	q.Contents = ReadContents(ctx, p.env.Edge, d)
	return &q, nil
}

// refusal joins every blocking reason into one refusal named by the first.
func refusal(rs []Reason) error {
	e := rs[0].Error()
	for _, r := range rs[1:] {
		e.What += "; also " + r.What
	}
	return e
}

// findTarget resolves the --target spelling to a listed disk.
func findTarget(ds []Disk, target string) (int, error) {
	name := strings.TrimPrefix(target, "/dev/")
	if strings.Contains(target, "/") {
		if real, err := filepath.EvalSymlinks(target); err == nil {
			name = filepath.Base(real)
		}
	}
	var names []string
	for i, d := range ds {
		if d.Name == name {
			return i, nil
		}
		for _, p := range d.Partitions {
			if p.Name == name {
				return 0, step.Refuse("target-partition", fmt.Sprintf("pass the whole disk: --target %s", d.Path),
					"%s is a partition of %s; an installer is written to the whole disk", target, d.Path)
			}
		}
		names = append(names, d.Path)
	}
	return 0, step.Refuse("target-missing", "plug the stick in, or pick one of: "+strings.Join(names, ", ")+" (`jetup write --list` says which may be written)",
		"there is no disk %s", target)
}

// Confirmation is the text the person must type: the device name ("sdb").
func (p *Plan) Confirmation() string { return p.Disk.Name }

// Execute writes the plan: the checksum (refusing on a mismatch, nothing
// written), the identity re-check, unmounting (only with consent), the
// exclusive open, the write, the read-back. The receipt is returned in
// every case where the target was opened, with the error if any.
func (p *Plan) Execute(ctx context.Context, sink step.Sink) (*Receipt, error) {
	rc := p.newReceipt()
	if c := p.Checksum; c != nil && !p.checked {
		sink.Emit(Stage{At: time.Now(), Stage: PhaseChecksum, Message: fmt.Sprintf("checking %s against the SHA-256 from %s", p.Image.Name, c.Source)})
		if err := VerifyChecksum(ctx, p.Image, c, p.env.Runner, sink); err != nil {
			return nil, err
		}
		rc.Image.Checksum = c
		sink.Emit(Stage{At: time.Now(), Stage: PhaseChecksum, Message: "checksum matches (" + c.Matched + ")"})
	}
	dev, err := p.open(ctx, sink)
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	err = writeAll(ctx, []*Plan{p}, []Device{dev}, []*Receipt{rc}, []step.Sink{sink}, sink, 0, nil)[0]
	rc.Ended = time.Now().UTC()
	rc.finish(err)
	return rc, err
}

// newReceipt is the receipt of a write about to start.
func (p *Plan) newReceipt() *Receipt {
	rc := &Receipt{Device: p.Identity, Image: ImageReceipt{Path: p.Image.Path, Name: p.Image.Name, Format: p.Image.Format,
		FileSize: p.Image.FileSize}, Started: time.Now().UTC(), Verify: VerifyReceipt{Result: "not-run"}}
	if p.Bmap != nil {
		rc.Bmap = &BmapReceipt{Path: p.Bmap.Path, ImageSize: p.Bmap.ImageSize, Mapped: p.Bmap.MappedBytes()}
	}
	if p.Checksum != nil && p.Checksum.Matched != "" {
		rc.Image.Checksum = p.Checksum
	}
	return rc
}

// open re-checks the disk's identity and the rules, unmounts what the
// person agreed to, and opens it exclusively under flock.
func (p *Plan) open(ctx context.Context, sink step.Sink) (Device, error) {
	ds, err := p.env.Edge.Disks(ctx)
	if err != nil {
		return nil, err
	}
	now, err := p.recheck(ds)
	if err != nil {
		return nil, err
	}
	return p.openNow(ctx, now, sink)
}

// recheck finds the chosen disk among ds and checks it is still the disk
// that was chosen and may still be written (with consent to unmount when
// it is mounted).
func (p *Plan) recheck(ds []Disk) (*Disk, error) {
	var now *Disk
	for i := range ds {
		if ds[i].Name == p.Disk.Name {
			now = &ds[i]
		}
	}
	if now == nil {
		return nil, step.Refuse("target-gone", "plug the stick in again and start over", "%s is gone (unplugged?)", p.Disk.Path)
	}
	if diff := p.Identity.Diff(now.Identity()); diff != "" {
		return nil, step.Refuse("identity-changed", "check which disks are plugged in and start over: nothing was written",
			"%s is no longer the disk that was chosen: %s", p.Disk.Path, diff)
	}
	c := Constraints{AllowFixed: p.Req.AllowFixed, ImageSize: p.Image.MinSize, ImagePath: p.Image.Path}
	if dev, err := fileDev(p.Image.Path); err == nil {
		c.ImageDevs = []string{dev}
	}
	rs := Check(now, c)
	if block := Blocking(rs); len(block) > 0 {
		return nil, refusal(block)
	}
	for _, r := range rs {
		if r.Cause == CauseMounted && !p.Req.Unmount {
			return nil, r.Error()
		}
	}
	return now, nil
}

// openNow unmounts the mounts of the disk as it is now (recheck's) and
// opens it exclusively.
func (p *Plan) openNow(ctx context.Context, now *Disk, sink step.Sink) (Device, error) {
	for _, m := range now.Mounts {
		sink.Emit(Stage{At: time.Now(), Stage: "unmount", Message: fmt.Sprintf("unmounting %s from %s", m.Device, m.Point)})
		if err := p.env.Edge.Unmount(ctx, m); err != nil {
			if errors.Is(err, ErrBusy) {
				return nil, step.Refuse("busy", fmt.Sprintf("close the programs using %s (`fuser -vm %s` lists them), then try again", m.Point, m.Point),
					"%s on %s is busy: a program has files open there; nothing was written", m.Device, m.Point)
			}
			return nil, step.Refuse("unmount-failed", "unmount it yourself (`umount "+m.Point+"`), then try again", "%v", err)
		}
	}
	dev, err := p.env.Edge.Open(ctx, *now, OpenOptions{Write: true, Expect: &p.Identity, LockWait: 5 * time.Second})
	if err != nil {
		if errors.Is(err, ErrBusy) {
			if held := p.holders(); len(held) > 0 {
				return nil, step.Refuse("busy", "end or close what holds it (or unmount it there: `nsenter -t PID -m umount POINT`), then try again",
					"%v: %s; nothing was written", err, strings.Join(held, "; "))
			}
			return nil, step.Refuse("busy", "close whatever uses the disk (a file manager, a mount, LVM), then try again", "%v; nothing was written", err)
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, step.Refuse("permission", "run jetup write as root (sudo jetup write ...)", "cannot open %s for writing: %v", p.Disk.Path, err)
		}
		return nil, step.Refuse("open-failed", "check the disk is still plugged in, then try again", "cannot open %s: %v", p.Disk.Path, err)
	}
	sink.Emit(Stage{At: time.Now(), Stage: "open", Message: fmt.Sprintf("%s opened exclusively (O_EXCL, flock)%s", p.Disk.Path, map[bool]string{true: " with O_DIRECT", false: ""}[dev.Direct()])})
	return dev, nil
}

// holders names what still holds the disk, where the edge can tell.
func (p *Plan) holders() []string {
	if h, ok := p.env.Edge.(interface{ Holders(string, int) []string }); ok {
		return h.Holders(p.Disk.Path, 3)
	}
	return nil
}

// writeAll writes the image to every opened target at once: the image is
// read and decoded once (one feed), each target has its own writers and
// queue, and each goes on to flush, zero the bmap's gaps and verify as
// soon as its own writes are done. It fills each receipt and returns each
// target's error. buffer bounds how far (bytes) the decoder may run ahead
// of the slowest target; 0 keeps the single-target pipeline's few
// buffers.
//
// done, when set, is called as each target ends, with its error.
func writeAll(ctx context.Context, plans []*Plan, devs []Device, rcs []*Receipt, sinks []step.Sink, sink step.Sink, buffer int64,
	done func(i int, err error)) []error {
	errs := make([]error, len(plans))
	p0 := plans[0]
	// The receipt's image hash is the file's SHA-256, taken as the
	// decompressor reads it: a fraction of the image's bytes when it is
	// compressed, and what a published IMAGE.sha256 covers.
	file := newFileDigest()
	defer file.Sum()
	src, err := p0.Image.Open(ctx, p0.env.Runner, file)
	if err != nil {
		for i := range errs {
			errs[i] = err
			if done != nil {
				done(i, err)
			}
		}
		return errs
	}
	defer src.Close()
	chunk := p0.Req.Chunk
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	f := newFeed(src, chunk, 0)
	f.size = p0.Image.Size
	if b := p0.Bmap; b != nil {
		f.bmap = b
		for _, r := range b.Ranges {
			s := b.span(r)
			f.regions = append(f.regions, region{off: s.off, n: s.n, sum: r.Checksum})
		}
		f.size = b.MappedBytes()
	}
	engines := make([]*engine, len(plans))
	most := 0
	for i, p := range plans {
		engines[i] = p.attach(f, devs[i], rcs[i], sinks[i])
		most = max(most, engines[i].writers)
	}
	f.nbuf = most + 4
	if buffer > 0 {
		f.nbuf = max(f.nbuf, int((buffer+int64(chunk)-1)/int64(chunk)))
	}
	var fileSum string
	rest := func() error {
		if rest := p0.Image.FileSize - src.InDone(); rest > 64<<20 {
			sink.Emit(Stage{At: time.Now(), Stage: PhaseWrite, Message: fmt.Sprintf("reading the last %s of %s, which the bmap leaves out, for its SHA-256", HumanIEC(rest), p0.Image.Name)})
		}
		if err := src.ReadRest(); err != nil {
			return fmt.Errorf("reading %s for its SHA-256: %w", p0.Image.Name, err)
		}
		fileSum = file.Sum()
		return nil
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	f.start(ctx)
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.after(ctx, engines[i], t0, &fileSum, rcs[i], sinks[i])
			if done != nil {
				done(i, errs[i])
			}
		}()
	}
	f.run(rest)
	wg.Wait()
	return errs
}

// attach adds the plan's disk to the feed and says how it is written.
func (p *Plan) attach(f *feed, dev Device, rc *Receipt, sink step.Sink) *engine {
	writers := p.Req.Writers
	if writers <= 0 {
		writers = DefaultWriters
		if p.Disk.NrRequests > 0 {
			// A reader with a tiny queue stalls with many requests queued
			// (rpi-imager #1592): stay within 3x its queue depth.
			writers = max(1, min(writers, 3*p.Disk.NrRequests))
		}
	}
	if p.Bmap != nil && p.Bmap.BlockSize%int64(dev.BlockSize()) != 0 && dev.Direct() {
		_ = dev.SetDirect(false)
	}
	e := f.attach(dev, writers, p.Disk.Name, sink)
	rc.Decoder, rc.Direct, rc.Writers, rc.Chunk = f.src.Decoder, dev.Direct(), writers, f.chunk
	what := HumanIEC(p.Image.Size)
	if p.Bmap != nil {
		what = p.Bmap.String()
	} else if p.Image.Size == 0 {
		what = "size unknown until decompressed"
	}
	sink.Emit(Stage{At: time.Now(), Stage: PhaseWrite, Message: fmt.Sprintf("writing %s (%s, %s) to %s", p.Image.Name, p.Image.Format, what, p.Disk.Path)})
	return e
}

// after follows one target from its first write to its verdict: the
// writes, the flush, the file's hash, the bmap's gaps, the read-back.
// fileSum is the file's SHA-256, set once the feed is done.
func (p *Plan) after(ctx context.Context, e *engine, t0 time.Time, fileSum *string, rc *Receipt, sink step.Sink) error {
	defer e.close()
	stopReport := e.report(ctx, PhaseWrite, e.written.Load)
	err := e.wait()
	stopReport()
	rc.Bytes = e.written.Load()
	rc.Write.Seconds = elapsed(time.Since(t0))
	rc.Write.AvgRate, rc.Write.MinRate = rates(e.samples, PhaseWrite, rc.Bytes, time.Since(t0))
	rc.Samples = e.samples
	if err != nil {
		return p.writeError(ctx, err, rc)
	}
	<-e.f.done
	if err := e.f.err; err != nil {
		return p.writeError(ctx, err, rc)
	}
	rc.Image.SHA256 = *fileSum
	switch {
	case p.Image.Format == Raw:
		rc.Image.UncompressedSHA256 = rc.Image.SHA256
	case p.Checksum != nil && p.Checksum.Matched == "image":
		rc.Image.UncompressedSHA256 = p.Checksum.Want
	}
	if c := p.Checksum; c != nil && c.fileSum != "" && c.fileSum != rc.Image.SHA256 {
		rc.PartlyWritten = true
		return &step.Error{Cause: "image-changed", Code: step.ExitFailed,
			What: fmt.Sprintf("%s changed while it was written: it was %s when its checksum was checked, and %s as it was written; %s holds data that was not checked",
				p.Image.Name, c.fileSum, rc.Image.SHA256, p.Disk.Path),
			Next: "let whatever writes the image (a download, a build) finish, then write again"}
	}
	if p.Bmap != nil {
		p.zeroGaps(ctx, e, e.dev, rc, sink)
	}
	rc.Image.Size = p.Image.Size
	if p.Bmap == nil {
		rc.Image.Size = e.f.produced.Load() // exact now, even where the headers did not say
	}
	sink.Emit(Stage{At: time.Now(), Stage: PhaseWrite, Message: fmt.Sprintf("wrote %s in %.1fs (%s average)", HumanIEC(rc.Bytes), rc.Write.Seconds, HumanRate(rc.Write.AvgRate))})
	if p.Req.NoVerify {
		rc.Verify.Result = "skipped"
		return nil
	}
	sink.Emit(Stage{At: time.Now(), Stage: PhaseVerify, Message: "reading everything back from the device to verify it"})
	t1 := time.Now()
	vr, err := e.verify(ctx, func(off int64, got []byte) (int64, bool) {
		return locateIn(ctx, func() (*Stream, error) { return p.Image.Open(ctx, p.env.Runner, nil) }, off, got)
	})
	rc.Verify.Seconds = elapsed(time.Since(t1))
	rc.Verify.AvgRate, rc.Verify.MinRate = rates(e.samples, PhaseVerify, vr.bytes, time.Since(t1))
	rc.Samples = e.samples
	if err != nil {
		rc.Verify.Result = "error"
		return p.writeError(ctx, err, rc)
	}
	if m := vr.mismatch; m != nil {
		rc.Verify.Result = "mismatch"
		rc.Verify.Mismatch = m
		where := fmt.Sprintf("at byte %d", m.Offset)
		if !m.Exact {
			where = fmt.Sprintf("in bytes %d-%d", m.Offset, m.BlockEnd-1)
		}
		return &step.Error{Cause: "verify-mismatch", Code: step.ExitFailed,
			What: fmt.Sprintf("%s does not hold what was written: it differs %s", p.Disk.Path, where),
			Next: "the stick or card is failing or fake (its capacity may be smaller than it claims): write again, and use another one if it fails again"}
	}
	rc.Verify.Result = "ok"
	rc.Verify.Bytes, rc.Verify.Method = vr.bytes, VerifyMethod
	sink.Emit(Stage{At: time.Now(), Stage: PhaseVerify, Message: fmt.Sprintf("verified %s in %.1fs: every 64 KiB block read back matches what was written", HumanIEC(vr.bytes), rc.Verify.Seconds)})
	return nil
}

// zeroGaps zeroes what the bmap leaves out where the device does that
// without writing, and says in the receipt whether it did. Where it
// cannot, the gaps keep what the stick held before, as bmaptool leaves
// them (it never zeroes): writing zeros there would cost as much as
// writing the whole image, which is what the bmap is there to avoid.
func (p *Plan) zeroGaps(ctx context.Context, e *engine, dev Device, rc *Receipt, sink step.Sink) {
	n, err := e.zeroGaps(ctx)
	rc.Bmap.Zeroed = n
	unmapped := rc.Bmap.ImageSize - rc.Bmap.Mapped
	switch {
	case err == nil:
		rc.Bmap.Gaps = GapsZeroed
		sink.Emit(Stage{At: time.Now(), Stage: PhaseWrite, Message: fmt.Sprintf("the device zeroed the %s the bmap leaves out, without writing them", HumanIEC(unmapped))})
	case errors.Is(err, errors.ErrUnsupported) && n == 0:
		rc.Bmap.Gaps = GapsLeft
		sink.Emit(Stage{At: time.Now(), Stage: PhaseWrite, Message: fmt.Sprintf("the %s the bmap leaves out keep what %s held before (it cannot zero them without writing them; bmaptool leaves them too)", HumanIEC(unmapped), p.Disk.Path)})
	default:
		rc.Bmap.Gaps = GapsPartly
		if errors.Is(err, errors.ErrUnsupported) {
			err = errors.New("the device stopped zeroing ranges part way")
		}
		sink.Emit(step.Warning{At: time.Now(), Warning: "could not zero all of the unmapped areas: " + err.Error(), Next: "the written data is complete; old data may remain between file systems"})
	}
	if n > 0 {
		_ = dev.Sync()
	}
}

// writeError says what broke, where, and that the target is partly written.
func (p *Plan) writeError(ctx context.Context, err error, rc *Receipt) error {
	part := fmt.Sprintf("%s is partly written (%s): it will not boot until written again", p.Disk.Path, HumanIEC(rc.Bytes))
	rc.PartlyWritten = true
	var de *DecodeError
	var bm *BmapMismatch
	var ea *errAt
	switch {
	case ctx.Err() != nil:
		return &step.Error{Cause: "cancelled", Code: step.ExitFailed, What: "the write was stopped; " + part, Next: "write it again before using the stick", Err: ctx.Err()}
	case errors.As(err, &de):
		cause := "image-corrupt"
		next := "the image file is damaged: download or build it again, then write again"
		if de.Truncated {
			cause = "image-truncated"
			next = "the image file is incomplete (an interrupted download or copy): fetch it again, then write again"
		}
		return &step.Error{Cause: cause, Code: step.ExitFailed, What: de.Error() + "; " + part, Next: next}
	case errors.As(err, &bm):
		return &step.Error{Cause: "bmap-mismatch", Code: step.ExitFailed, What: bm.Error() + "; " + part,
			Next: "the image or its .bmap is damaged or they do not belong together: get both again, or write without the bmap (--no-bmap)"}
	case errors.As(err, &ea):
		rc.FailedAt = ea.off
		where := fmt.Sprintf(" at byte %d", ea.off)
		switch {
		case errors.Is(err, syscall.ENOSPC):
			return &step.Error{Cause: "target-full", Code: step.ExitFailed, Err: ea.err,
				What: "the image does not fit: " + p.Disk.Path + " ended" + where + "; " + part, Next: "use a bigger stick or card"}
		case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ESHUTDOWN),
			// A stick pulled out mid-write mostly fails with EIO, as a
			// dying one does: gone from the list, it was pulled, and is
			// not to be thrown away.
			errors.Is(err, syscall.EIO) && p.gone(ctx):
			return &step.Error{Cause: "target-gone", Code: step.ExitFailed, Err: ea.err,
				What: p.Disk.Path + " disappeared" + where + " (unplugged?); " + part, Next: "plug it in again, firmly and directly, and write again"}
		case errors.Is(err, syscall.EIO):
			return &step.Error{Cause: "target-io-error", Code: step.ExitFailed, Err: ea.err,
				What: p.Disk.Path + " failed" + where + " (input/output error); " + part,
				Next: "the stick or card may be worn out, fake or badly seated: plug it in again and retry, or use another one"}
		case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EPERM):
			return &step.Error{Cause: "read-only", Code: step.ExitFailed, Err: ea.err,
				What: p.Disk.Path + " refused the write" + where + "; " + part, Next: "check the card's lock switch, then write again"}
		}
		return &step.Error{Cause: "write-failed", Code: step.ExitFailed, Err: ea.err, What: p.Disk.Path + " failed" + where + "; " + part,
			Next: "plug it in again and retry; if it fails again use another stick"}
	}
	return &step.Error{Cause: "write-failed", Code: step.ExitFailed, Err: err, What: "the write failed; " + part, Next: "write it again"}
}

// gone reports whether the disk is no longer there (the same name and
// device number), as after it was pulled out.
func (p *Plan) gone(ctx context.Context) bool {
	ds, err := p.env.Edge.Disks(context.WithoutCancel(ctx))
	if err != nil {
		return false
	}
	for _, d := range ds {
		if d.Name == p.Disk.Name && d.MajMin == p.Disk.MajMin && d.Size > 0 {
			return false
		}
	}
	return true
}

// Summary is the confirmation text: the disk, what it holds now (all of
// which will be erased), and what will be written.
func (p *Plan) Summary() []string {
	out := p.diskSummary()
	out = append(out, p.imageSummary()...)
	for _, r := range p.Consent {
		out = append(out, r.What+": they will be unmounted")
	}
	return out
}

// diskSummary is the disk and what it holds now.
func (p *Plan) diskSummary() []string {
	d := p.Disk
	out := []string{fmt.Sprintf("Erase %s: %s, serial %s, port %s", d.Path, d.Description(), orDash(d.Serial), orDash(d.ByPath))}
	mounts := map[string]string{}
	for _, m := range d.Mounts {
		mounts[m.Device] = m.Point
	}
	out = append(out, "It holds now (all of it will be erased):")
	for i, l := range p.Contents.Lines() {
		if k := i - damagedLines(p.Contents); p.Contents != nil && p.Contents.Table != disklabel.None && k >= 0 && k < len(p.Contents.Partitions) {
			name := partName(d, p.Contents.Partitions[k].Index)
			if mp, ok := mounts[name]; ok {
				l += ", mounted on " + mp
			}
		}
		out = append(out, "  "+l)
	}
	return out
}

// imageSummary is what will be written and how it is checked.
func (p *Plan) imageSummary() []string {
	what := fmt.Sprintf("Write %s (%s", p.Image.Name, p.Image.Format)
	if p.Image.Size > 0 {
		what += ", " + HumanIEC(p.Image.Size)
	}
	what += ")"
	if p.Bmap != nil {
		what += "; bmap: " + p.Bmap.String()
	}
	out := []string{what}
	if c := p.Checksum; c != nil {
		out = append(out, "Checksum from "+c.Source+", checked before writing")
	}
	out = append(out, p.Notes...)
	return out
}

// damagedLines is how many lines Lines puts before the partitions.
func damagedLines(c *Contents) int {
	if c != nil && c.Damaged {
		return 1
	}
	return 0
}

// partName is the kernel name of partition n of d ("sdb1", "mmcblk0p1").
func partName(d Disk, n int) string {
	last := d.Name[len(d.Name)-1]
	if last >= '0' && last <= '9' {
		return fmt.Sprintf("%sp%d", d.Name, n)
	}
	return fmt.Sprintf("%s%d", d.Name, n)
}

// PowerOff offers the stick to be pulled: udisks power-off, or a USB
// disk removed from the system.
func PowerOff(ctx context.Context, edge Edge, d Disk, sink step.Sink) (string, error) {
	how, err := edge.PowerOff(ctx, d)
	if err != nil {
		return "", step.Errorf("power-off", "the data is synced: unmount nothing, just pull it", "%v", err)
	}
	sink.Emit(Stage{At: time.Now(), Stage: "power-off", Message: fmt.Sprintf("%s %s: it can be pulled now", d.Path, how)})
	return how, nil
}
