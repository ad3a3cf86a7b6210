package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jetup/jetup/step"
)

// Batch is one image written to several disks at once (`jetup write
// --target sdb --target sdc`, the Write step's multi-select): the image is
// read and decoded once and written to every disk in parallel, each disk
// with its own queue, its own verify and its own receipt.
type Batch struct {
	Plans []*Plan
	// Buffer bounds how far (bytes) the decoder may run ahead of the
	// slowest disk: a fast stick is never held back by a slow one until
	// the slow one is that far behind. 0: DefaultBuffer.
	Buffer int64
}

// BatchRecord is the write step's details in run.json when several sticks
// were written at once: one receipt per stick, in the order given.
type BatchRecord struct {
	Targets []*Receipt `json:"targets"`
}

// Causes of a batch's refusals and of its end.
const (
	CauseTargetTwice   = "target-twice"
	CauseTargetsFailed = "targets-failed"
)

// PrepareBatch checks the image once and every target against every
// safety rule. One refused target refuses the whole batch (exit 2), and
// the refusal names every target that was refused and why: nothing is
// written anywhere. The same disk named twice (sdb and a by-id link to it)
// is refused too.
func PrepareBatch(ctx context.Context, env Env, req Request, targets []string, sink step.Sink) (*Batch, error) {
	im, err := prepareImage(env, req)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, step.Refuse("no-target", "pass --target DEV (as many times as there are sticks); `jetup write --list` shows the candidates", "no target disk given")
	}
	ds, reasons, err := ListDisks(ctx, env.Edge, im.Image, im.constraints())
	if err != nil {
		return nil, err
	}
	b := &Batch{Buffer: req.Buffer}
	seen := map[string]string{} // disk name -> the spelling that named it
	var refused []*step.Error
	for _, t := range targets {
		i, err := findTarget(ds, t)
		if err == nil {
			if first, ok := seen[ds[i].Name]; ok {
				what := fmt.Sprintf("%s is named twice", ds[i].Path)
				if first != t {
					what = fmt.Sprintf("%s and %s are the same disk (%s)", first, t, ds[i].Path)
				}
				err = step.Refuse(CauseTargetTwice, "name each stick once", "%s", what)
			}
		}
		if err == nil {
			seen[ds[i].Name] = t
			var p *Plan
			if p, err = im.forDisk(ctx, ds[i], reasons[i]); err == nil {
				p.Req.Target = t
				b.Plans = append(b.Plans, p)
				continue
			}
		}
		var se *step.Error
		if !errors.As(err, &se) {
			return nil, err
		}
		refused = append(refused, se)
	}
	if len(refused) > 0 {
		return nil, refuseAll(refused, len(targets))
	}
	return b, nil
}

// refuseAll is one refusal for the whole batch: the first one's cause,
// every target's reason, and that nothing was written.
func refuseAll(rs []*step.Error, n int) error {
	if n == 1 {
		return rs[0]
	}
	whats := make([]string, len(rs))
	nexts := make([]string, 0, len(rs))
	for i, r := range rs {
		whats[i] = r.What
		if r.Next != "" && !contains(nexts, r.Next) {
			nexts = append(nexts, r.Next)
		}
	}
	return &step.Error{Cause: rs[0].Cause, Code: step.ExitRefused,
		What: strings.Join(whats, "; ") + fmt.Sprintf("; nothing was written to any of the %d disks", n),
		Next: strings.Join(nexts, "; ") + "; or leave that disk out"}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Consent is every reason the person must agree to, target by target.
func (b *Batch) Consent() []Reason {
	var out []Reason
	for _, p := range b.Plans {
		out = append(out, p.Consent...)
	}
	return out
}

// NeedsTypedName is true when any target needs its name typed.
func (b *Batch) NeedsTypedName() bool {
	for _, p := range b.Plans {
		if p.NeedsTypedName {
			return true
		}
	}
	return false
}

// Confirmation is what the person types: every device name, in order,
// separated by spaces ("sdb sdc sdd").
func (b *Batch) Confirmation() string {
	names := make([]string, len(b.Plans))
	for i, p := range b.Plans {
		names[i] = p.Disk.Name
	}
	return strings.Join(names, " ")
}

// Confirmed reports whether typed names every target: their names in any
// order, separated by spaces or commas, each once.
func (b *Batch) Confirmed(typed string) bool {
	f := strings.FieldsFunc(typed, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(f) != len(b.Plans) {
		return false
	}
	want := map[string]bool{}
	for _, p := range b.Plans {
		want[p.Disk.Name] = true
	}
	for _, n := range f {
		n = strings.TrimPrefix(n, "/dev/")
		if !want[n] {
			return false
		}
		delete(want, n)
	}
	return len(want) == 0
}

// SetUnmount records the person's consent to unmount every target's
// partitions.
func (b *Batch) SetUnmount(ok bool) {
	for _, p := range b.Plans {
		p.Req.Unmount = ok
	}
}

// Summary is the confirmation: each disk, what it holds and whether it
// will be unmounted, then what is written to all of them.
func (b *Batch) Summary() []string {
	var out []string
	for _, p := range b.Plans {
		out = append(out, p.diskSummary()...)
		for _, r := range p.Consent {
			out = append(out, "  "+r.What+": they will be unmounted")
		}
	}
	return append(out, b.Plans[0].imageSummary()...)
}

// DefaultBuffer is how far the decoder may run ahead of the slowest stick
// when several are written: a quarter of the memory available now, at
// least 64 MiB and at most 2 GiB, and never more than the image itself.
func DefaultBuffer(imageBytes int64) int64 {
	avail := memAvailable()
	buf := min(max(avail/4, 64<<20), 2<<30)
	if imageBytes > 0 {
		buf = min(buf, imageBytes+DefaultChunk)
	}
	return buf
}

// memAvailable is /proc/meminfo's MemAvailable, or 1 GiB when unknown.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1 << 30
	}
	defer f.Close()
	sc := bufio.NewScanner(f) // a kernel file of short lines
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 1 << 30
}

// Execute writes every target: the checksum once (a mismatch refuses,
// nothing written), every target re-checked (identity, rules, consent)
// before any is opened, then unmounted and opened; one that fails here
// refuses the whole batch with nothing written. Then the write: a target
// that fails is closed off and the others go on. One receipt per target
// opened, in order; the error is nil when every target was verified (or
// written, with NoVerify), else CauseTargetsFailed naming the bad ones
// (exit 1).
func (b *Batch) Execute(ctx context.Context, sink step.Sink) ([]*Receipt, error) {
	p0 := b.Plans[0]
	if c := p0.Checksum; c != nil {
		sink.Emit(Stage{At: time.Now(), Stage: PhaseChecksum, Message: fmt.Sprintf("checking %s against the SHA-256 from %s", p0.Image.Name, c.Source)})
		if err := VerifyChecksum(ctx, p0.Image, c, p0.env.Runner, sink); err != nil {
			return nil, err
		}
		sink.Emit(Stage{At: time.Now(), Stage: PhaseChecksum, Message: "checksum matches (" + c.Matched + ")"})
	}
	ds, err := p0.env.Edge.Disks(ctx)
	if err != nil {
		return nil, step.Errorf("disk-list", "check that /sys is mounted", "%v", err)
	}
	nows := make([]*Disk, len(b.Plans))
	var refused []*step.Error
	for i, p := range b.Plans {
		now, err := p.recheck(ds)
		if err != nil {
			var se *step.Error
			if !errors.As(err, &se) {
				return nil, err
			}
			refused = append(refused, se)
		}
		nows[i] = now
	}
	if len(refused) > 0 {
		return nil, refuseAll(refused, len(b.Plans))
	}
	sinks := make([]step.Sink, len(b.Plans))
	tr := newTracker(b.Plans, sink)
	for i := range b.Plans {
		sinks[i] = tr.targetSink(i)
	}
	devs := make([]Device, 0, len(b.Plans))
	defer func() {
		for _, d := range devs {
			d.Close()
		}
	}()
	for i, p := range b.Plans {
		dev, err := p.openNow(ctx, nows[i], sinks[i])
		if err != nil {
			var se *step.Error
			if errors.As(err, &se) && len(b.Plans) > 1 {
				se.What = strings.TrimSuffix(se.What, "; nothing was written") + "; nothing was written to any disk"
			}
			return nil, err
		}
		devs = append(devs, dev)
	}
	rcs := make([]*Receipt, len(b.Plans))
	for i, p := range b.Plans {
		rcs[i] = p.newReceipt()
	}
	buffer := b.Buffer
	if buffer <= 0 {
		size := p0.Image.Size
		if p0.Bmap != nil {
			size = p0.Bmap.MappedBytes()
		}
		buffer = DefaultBuffer(size)
	}
	stop := tr.report(ctx)
	writeAll(ctx, b.Plans, devs, rcs, sinks, sink, buffer, func(i int, err error) {
		rc := rcs[i]
		rc.Ended = time.Now().UTC()
		rc.finish(err)
		rc.Target = b.Plans[i].Disk.Name
		rc.Port = b.Plans[i].Disk.Port()
		tr.done(i, rc)
		if err != nil && len(b.Plans) > 1 {
			// Said at once: the technician can pull it while the others
			// go on.
			sink.Emit(step.Warning{At: time.Now(), Warning: b.Plans[i].Disk.Label() + " " + rc.Verdict() + "; the others go on", Next: rc.Next})
		}
	})
	stop()
	return rcs, batchError(b.Plans, rcs)
}

// batchError is nil when every target came out right, else one error
// naming each bad one.
func batchError(plans []*Plan, rcs []*Receipt) error {
	var bad []string
	var next []string
	for i, rc := range rcs {
		if rc.Result != "failed" {
			continue
		}
		bad = append(bad, plans[i].Disk.Label()+" "+rc.Verdict())
		next = append(next, plans[i].Disk.Name+": "+rc.Next)
	}
	if len(bad) == 0 {
		return nil
	}
	good := len(rcs) - len(bad)
	return &step.Error{Cause: CauseTargetsFailed, Code: step.ExitFailed,
		What: fmt.Sprintf("%d of %d came out right; %s", good, len(rcs), strings.Join(bad, "; ")),
		Next: strings.Join(next, "; ")}
}

// Verdict is the receipt's outcome in a few words: "verified", or where
// and how it failed and what to do with the stick ("failed at 112 MiB:
// input/output error: throw it away").
func (r *Receipt) Verdict() string {
	switch r.Result {
	case "verified", "written":
		return r.Result
	}
	at := ""
	if r.FailedAt > 0 || r.Cause == "target-io-error" {
		at = " at " + mib(r.FailedAt)
	}
	switch r.Cause {
	case "target-io-error":
		return "failed" + at + ": input/output error: throw it away"
	case "verify-mismatch":
		return "failed" + at + ": it does not hold what was written: throw it away"
	case "target-gone":
		return "failed" + at + ": it disappeared (pulled out?): plug it in and write it again"
	case "target-full":
		return "failed" + at + ": it is smaller than it claims or than the image: throw it away"
	case "read-only":
		return "failed" + at + ": it refused the write: check its lock switch"
	case "cancelled":
		return "stopped" + at + ": write it again before using it"
	case "image-corrupt", "image-truncated", "bmap-mismatch", "image-changed":
		return "not written: the image is at fault (" + r.Cause + ")"
	}
	return "failed" + at + ": " + r.Error
}

// mib is "112 MiB" for where a stick failed.
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("byte %d", n)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// failure fills the receipt's cause, next step and failing offset from
// the target's error.
func (r *Receipt) failure(err error) {
	var se *step.Error
	if errors.As(err, &se) {
		r.Cause, r.Next = se.Cause, se.Next
	}
	if r.Verify.Mismatch != nil {
		r.FailedAt = r.Verify.Mismatch.Offset
	}
	if r.Cause == "" && errors.Is(err, syscall.EIO) {
		r.Cause = "target-io-error"
	}
}

// TargetsProgress is every target of a write to several disks at once,
// four times a second: one bar each, the combined rate, and the decoder's
// rate (the image is decoded once for all of them).
type TargetsProgress struct {
	At      time.Time        `json:"at"`
	Targets []TargetProgress `json:"targets"`
	// Rate is the bytes per second moved to and from every target
	// together, now.
	Rate float64 `json:"rate_bps"`
	// Source is the rate the image comes out of the decoder.
	Source float64 `json:"source_bps"`
}

// TargetProgress is one target's bar.
type TargetProgress struct {
	Target string `json:"target"` // "sdb"
	// Label names the physical stick: device, port and serial.
	Label string `json:"label"`
	// Phase is write, flush, verify, or the verdict: verified, written,
	// failed.
	Phase string  `json:"phase"`
	Done  int64   `json:"done"`
	Total int64   `json:"total,omitempty"`
	Rate  float64 `json:"rate_bps"`
	ETA   float64 `json:"eta_s,omitempty"`
	// Verdict is the receipt's Verdict once the target is done.
	Verdict string `json:"verdict,omitempty"`
}

// Finished reports whether the target has its verdict.
func (t TargetProgress) Finished() bool {
	return t.Phase == "verified" || t.Phase == "written" || t.Phase == "failed"
}

// Text is one line: "sdb write 47% 28.6 MiB/s · sdc verified · sdd failed · 57.2 MiB/s in all".
func (p TargetsProgress) Text() string {
	parts := make([]string, 0, len(p.Targets)+1)
	for _, t := range p.Targets {
		s := t.Target + " " + t.Phase
		if !t.Finished() {
			if t.Total > 0 {
				s += fmt.Sprintf(" %3.0f%%", 100*float64(t.Done)/float64(t.Total))
			} else {
				s += " " + HumanIEC(t.Done)
			}
			s += " " + HumanRate(t.Rate)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ") + " · " + HumanRate(p.Rate) + " in all"
}

// tracker stamps each target's events with its name and keeps each one's
// latest state for the combined progress.
type tracker struct {
	plans []*Plan
	out   step.Sink
	multi bool

	mu     sync.Mutex
	states []TargetProgress
}

func newTracker(plans []*Plan, sink step.Sink) *tracker {
	t := &tracker{plans: plans, out: sink, multi: len(plans) > 1, states: make([]TargetProgress, len(plans))}
	for i, p := range plans {
		t.states[i] = TargetProgress{Target: p.Disk.Name, Label: p.Disk.Label(), Phase: PhaseWrite}
	}
	return t
}

// sink is target i's: its events carry its name (when there are several)
// and update its state.
func (t *tracker) targetSink(i int) step.Sink {
	name := t.plans[i].Disk.Name
	return step.SinkFunc(func(e step.Event) {
		switch ev := e.(type) {
		case Progress:
			t.mu.Lock()
			st := &t.states[i]
			if !st.Finished() {
				st.Phase, st.Done, st.Total, st.Rate, st.ETA = ev.Phase, ev.Done, ev.Total, ev.Rate, ev.ETA
			}
			t.mu.Unlock()
			if t.multi {
				ev.Target = name
			}
			e = ev
		case Stage:
			if ev.Stage == PhaseFlush || ev.Stage == PhaseVerify {
				t.mu.Lock()
				if st := &t.states[i]; !st.Finished() && st.Phase != ev.Stage {
					st.Phase, st.Done, st.Total, st.Rate, st.ETA = ev.Stage, 0, 0, 0, 0
				}
				t.mu.Unlock()
			}
			if t.multi {
				ev.Target = name
			}
			e = ev
		case RateSample:
			if t.multi {
				ev.Target = name
			}
			e = ev
		case step.Warning:
			if t.multi {
				ev.Warning = name + ": " + ev.Warning
			}
			e = ev
		}
		t.out.Emit(e)
	})
}

// done records target i's verdict.
func (t *tracker) done(i int, rc *Receipt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.states[i]
	st.Phase, st.Rate, st.ETA = rc.Result, 0, 0
	st.Verdict = rc.Verdict()
}

// snapshot is the combined progress now.
func (t *tracker) snapshot(now time.Time) TargetsProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := TargetsProgress{At: now, Targets: append([]TargetProgress(nil), t.states...)}
	for _, s := range t.states {
		if !s.Finished() {
			p.Rate += s.Rate
		}
	}
	return p
}

// report emits TargetsProgress four times a second while several targets
// are written, and once more at the end with every verdict.
func (t *tracker) report(ctx context.Context) (stop func()) {
	if !t.multi {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				t.out.Emit(t.snapshot(time.Now()))
				return
			case <-ctx.Done():
				return
			case now := <-tick.C:
				t.out.Emit(t.snapshot(now))
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// Results is the end of a batch for people: the count, the good ones,
// then the bad ones, each named by device, port and serial.
func Results(rcs []*Receipt) []string {
	var good, bad []string
	verified, written := 0, 0
	for _, rc := range rcs {
		switch rc.Result {
		case "verified":
			verified++
		case "written":
			written++
		}
		if rc.Result == "failed" {
			bad = append(bad, rc.Label()+" "+rc.Verdict())
		} else {
			good = append(good, rc.Label()+" "+rc.Verdict())
		}
	}
	head := fmt.Sprintf("%d of %d verified", verified, len(rcs))
	if written > 0 {
		head += fmt.Sprintf(", %d written and not verified (--no-verify)", written)
	}
	if len(bad) > 0 {
		head += fmt.Sprintf(", %d failed", len(bad))
	}
	out := []string{head}
	for _, g := range good {
		out = append(out, "  good: "+g)
	}
	for _, b := range bad {
		out = append(out, "  BAD:  "+b)
	}
	return out
}
