package media

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/step"
)

// Station writes one image to every USB stick and SD card plugged in
// while it runs (`jetup write --station`, the Write step's station), each
// as it arrives, until ctx ends. A card is taken only when it arrives
// after the station started, is a removable USB disk or an SD card of at
// most TypedNameOver bytes, and passes every safety rule; anything else is
// listed and left alone. A verified card is powered off where the reader
// allows and shown as "pull me"; a failed one is never counted as done.
type Station struct {
	Env Env
	// Req is the image (Image, Bmap, NoBmap, SHA256), NoVerify, and the
	// consent to unmount what a desktop mounts on an arriving card
	// (Unmount). Target and AllowFixed are not used: the station never
	// takes a fixed disk.
	Req Request
	// PowerOff powers every verified card off so it can be pulled.
	PowerOff bool
}

// Causes of a station's end.
const CauseCardsFailed = "cards-failed"

// Station phases of a slot, besides write, flush and verify.
const (
	SlotPullMe = "pull me"
	SlotFailed = "failed"
	SlotEmpty  = "empty"
	// SlotOpening: the card was taken, its write not begun.
	SlotOpening = "opening"
)

// StationProgress is the station now: one slot per reader or port a card
// was taken from, the disks left alone, and the counts. It is sent on
// every change and four times a second while a card is written.
type StationProgress struct {
	At    time.Time   `json:"at"`
	Slots []SlotState `json:"slots"`
	// LeftAlone are the disks plugged in that the station will not
	// write, with why.
	LeftAlone []LeftAlone `json:"left_alone,omitempty"`
	Written   int         `json:"written"`
	Failed    int         `json:"failed"`
	// Rate is every card's write or read-back rate together.
	Rate float64 `json:"rate_bps"`
}

// SlotState is one slot's bar: the card in it and how far it has come.
type SlotState struct {
	// Slot is where the card sits: "usb 2-1.4", "mmc0", or the disk's
	// name when the machine says no more.
	Slot   string `json:"slot"`
	Target string `json:"target"`
	Label  string `json:"label"`
	Serial string `json:"serial,omitempty"`
	// Phase is write, flush, verify, "pull me" (verified), failed, or
	// empty (its last card was pulled).
	Phase string  `json:"phase"`
	Done  int64   `json:"done,omitempty"`
	Total int64   `json:"total,omitempty"`
	Rate  float64 `json:"rate_bps,omitempty"`
	ETA   float64 `json:"eta_s,omitempty"`
	// Verdict is the card's receipt's verdict once it is done;
	// PowerOff says how it was powered off.
	Verdict  string `json:"verdict,omitempty"`
	PowerOff string `json:"power_off,omitempty"`
}

// Busy reports whether the slot's card is being written.
func (s SlotState) Busy() bool {
	return s.Phase == PhaseWrite || s.Phase == PhaseFlush || s.Phase == PhaseVerify || s.Phase == SlotOpening
}

// LeftAlone is a disk the station will not write.
type LeftAlone struct {
	Target string `json:"target"`
	Label  string `json:"label"`
	Cause  string `json:"cause"`
	Why    string `json:"why"`
}

// Text is one line for the text face: each slot, then the counts.
func (p StationProgress) Text() string {
	parts := make([]string, 0, len(p.Slots)+1)
	for _, s := range p.Slots {
		t := s.Slot + ": " + s.Target + " " + s.Phase
		switch {
		case s.Busy() && s.Total > 0:
			t += fmt.Sprintf(" %3.0f%% %s", 100*float64(s.Done)/float64(s.Total), HumanRate(s.Rate))
		case s.Phase == SlotPullMe:
			t = s.Slot + ": " + s.Target + " " + s.Verdict + ", pull me"
		case s.Phase == SlotFailed:
			t = s.Slot + ": " + s.Target + " " + s.Verdict
		case s.Phase == SlotEmpty:
			t = s.Slot + ": empty"
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		parts = append(parts, "waiting for a stick or card")
	}
	return strings.Join(parts, " · ") + fmt.Sprintf(" · %d written, %d failed", p.Written, p.Failed)
}

// StationResult is the end of a station: every card taken, in the order
// they arrived, with its receipt, and what was left alone.
type StationResult struct {
	Cards     []*Receipt  `json:"cards"`
	LeftAlone []LeftAlone `json:"left_alone"`
	Written   int         `json:"written"`
	Failed    int         `json:"failed"`
}

// Lines is the end for people: the counts, then each card by its serial.
func (r *StationResult) Lines() []string {
	out := []string{fmt.Sprintf("station: %d written, %d failed", r.Written, r.Failed)}
	for _, rc := range r.Cards {
		what := "written:"
		if rc.Result == "failed" {
			what = "FAILED: "
		}
		serial := rc.Device.Serial
		if serial == "" {
			serial = "no serial"
		}
		out = append(out, fmt.Sprintf("  %s %s serial %s: %s", what, rc.Target, serial, rc.Verdict()))
	}
	for _, l := range r.LeftAlone {
		out = append(out, fmt.Sprintf("  left alone: %s: %s", l.Label, l.Why))
	}
	return out
}

// Text is the end for people.
func (r *StationResult) Text() string { return strings.Join(r.Lines(), "\n") }

// Run writes cards until ctx ends, then waits for the cards being written
// (ctx's end stops them: they are counted failed, "stopped") and returns
// every card's receipt. The error is a refusal (exit 2) when the image is
// refused before any card is taken, CauseCardsFailed (exit 1) when any
// card failed, else nil.
func (s *Station) Run(ctx context.Context, sink step.Sink) (*StationResult, error) {
	base, err := prepareImage(s.Env, s.Req)
	if err != nil {
		return nil, err
	}
	if c := base.Checksum; c != nil {
		sink.Emit(Stage{At: time.Now(), Stage: PhaseChecksum, Message: fmt.Sprintf("checking %s against the SHA-256 from %s", base.Image.Name, c.Source)})
		if err := VerifyChecksum(ctx, base.Image, c, base.env.Runner, sink); err != nil {
			return nil, err
		}
		sink.Emit(Stage{At: time.Now(), Stage: PhaseChecksum, Message: "checksum matches (" + c.Matched + "); it is not checked again for each card"})
		base.checked = true
	}
	base.Req.AllowFixed = false
	st := &station{s: s, base: base, out: sink, known: map[string]bool{}, res: &StationResult{LeftAlone: []LeftAlone{}, Cards: []*Receipt{}}}
	changes := s.Env.Edge.Changes(ctx)
	// What is plugged in now was not plugged in for the station: a
	// backup disk or yesterday's stick is never erased for being there.
	if err := st.scan(ctx, true); err != nil {
		return nil, err
	}
	sink.Emit(Stage{At: time.Now(), Stage: "station", Message: "waiting for USB sticks and SD cards: each one plugged in from now on is erased and written; stop with Ctrl-C"})
	st.emit()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-changes:
			if err := st.scan(ctx, false); err != nil {
				sink.Emit(step.Warning{At: time.Now(), Warning: err.Error(), Next: step.NextOf(err)})
			}
			st.emit()
		case <-tick.C:
			if st.busy() {
				st.emit()
			}
		}
	}
	st.wg.Wait()
	st.emit()
	return st.res, st.result()
}

// station is a Station's run.
type station struct {
	s    *Station
	base *Plan
	out  step.Sink
	wg   sync.WaitGroup

	mu sync.Mutex
	// known is every disk (by key) seen and decided on: taken, left
	// alone, or there before the station; forgotten when it goes, so a
	// card plugged in again is written again.
	known   map[string]bool
	running map[string]bool
	slots   []SlotState
	res     *StationResult
}

// cardKey tells one card from another in the same reader: a card put in
// a reader that stays (an MMC slot) changes the size at least.
func cardKey(d Disk) string {
	return fmt.Sprintf("%s|%s|%s|%d", d.Name, d.MajMin, d.Serial, d.Size)
}

// slotOf is where the card sits.
func slotOf(d Disk) string {
	if p := d.Port(); p != "" {
		return p
	}
	return d.Name
}

// scan lists the disks and decides on each new one. At the start every
// disk is only noted (and listed, when it is one the station would
// otherwise take).
func (st *station) scan(ctx context.Context, first bool) error {
	ds, reasons, err := ListDisks(ctx, st.s.Env.Edge, st.base.Image, st.base.constraints())
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	present := map[string]bool{}
	for i, d := range ds {
		if d.Size == 0 {
			continue // an empty reader: its card, when it comes, is new
		}
		k := cardKey(d)
		present[k] = true
		if st.known[k] {
			continue
		}
		st.known[k] = true
		if first {
			if why := st.refuse(d, reasons[i]); why == nil {
				st.leave(d, Reason{Cause: "present-at-start", What: "it was plugged in before the station started", Next: "pull it and plug it in again to have it written"})
			}
			continue
		}
		if why := st.refuse(d, reasons[i]); why != nil {
			st.leave(d, *why)
			continue
		}
		plan, err := st.base.forDisk(ctx, d, reasons[i])
		if err != nil {
			st.leave(d, reasonOf(err))
			continue
		}
		plan.Req.Target = d.Path
		st.take(ctx, plan, k)
	}
	for k := range st.known {
		if !present[k] && !st.running[k] {
			delete(st.known, k)
		}
	}
	st.forgetGone(ds)
	return nil
}

// emptySlots marks the slots whose card was pulled. A card powered off
// is gone from the list at once, still in its slot: it stays "pull me"
// until the next card arrives there. Called with st.mu held.
func (st *station) emptySlots(here map[string]bool) {
	for i := range st.slots {
		s := &st.slots[i]
		if (s.Phase == SlotPullMe || s.Phase == SlotFailed) && s.PowerOff == "" && !here[s.Target] {
			s.Phase = SlotEmpty
		}
	}
}

// refuse is why the station will not take d, or nil.
func (st *station) refuse(d Disk, rs []Reason) *Reason {
	switch {
	case d.Transport != USB && d.Transport != MMC:
		return &Reason{Cause: CauseFixed, What: fmt.Sprintf("not a USB stick or SD card (%s)", d.Transport),
			Next: "write it with jetup write --target " + d.Name + " --allow-fixed, if you mean to"}
	case d.Transport == USB && !d.Removable:
		return &Reason{Cause: CauseFixed, What: "a USB disk that is not removable (a USB hard disk or SSD, not a stick)",
			Next: "write it with jetup write --target " + d.Name + ", if you mean to"}
	case d.Size > TypedNameOver:
		return &Reason{Cause: "too-big", What: fmt.Sprintf("%s, over %s: the station takes sticks and cards only", HumanBytes(d.Size), HumanBytes(TypedNameOver)),
			Next: "write it with jetup write --target " + d.Name + ", if you mean to"}
	}
	if block := Blocking(rs); len(block) > 0 {
		return &block[0]
	}
	for _, r := range rs {
		if r.Cause == CauseMounted && !st.s.Req.Unmount {
			r.Next = "pass --unmount to let the station unmount what the desktop mounts, then plug it in again"
			return &r
		}
	}
	return nil
}

// leave lists d as left alone and says so. Called with st.mu held.
func (st *station) leave(d Disk, r Reason) {
	why := r.What
	if r.Next != "" {
		why += " (" + r.Next + ")"
	}
	// The disk's own path starts most rule texts: said once is enough.
	why = strings.TrimPrefix(why, d.Path+" ")
	st.res.LeftAlone = append(st.res.LeftAlone, LeftAlone{Target: d.Name, Label: d.Label(), Cause: r.Cause, Why: why})
	st.out.Emit(Stage{At: time.Now(), Stage: "left-alone", Message: d.Label() + " left alone: " + why})
}

// forgetGone drops the left-alone entries of disks no longer there.
// Called with st.mu held.
func (st *station) forgetGone(ds []Disk) {
	here := map[string]bool{}
	for _, d := range ds {
		if d.Size > 0 {
			here[d.Name] = true
		}
	}
	st.emptySlots(here)
	kept := st.res.LeftAlone[:0]
	for _, l := range st.res.LeftAlone {
		if here[l.Target] {
			kept = append(kept, l)
		}
	}
	st.res.LeftAlone = kept
}

// take starts writing a card in its slot. Called with st.mu held.
func (st *station) take(ctx context.Context, p *Plan, key string) {
	slot := slotOf(p.Disk)
	i := -1
	for j := range st.slots {
		if st.slots[j].Slot == slot {
			i = j
		}
	}
	if i < 0 {
		st.slots = append(st.slots, SlotState{Slot: slot})
		i = len(st.slots) - 1
	}
	st.slots[i] = SlotState{Slot: slot, Target: p.Disk.Name, Label: p.Disk.Label(), Serial: p.Disk.Serial, Phase: SlotOpening}
	if st.running == nil {
		st.running = map[string]bool{}
	}
	st.running[key] = true
	st.out.Emit(Stage{At: time.Now(), Stage: "station", Message: p.Disk.Label() + " plugged in: erasing it and writing " + p.Image.Name})
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		sink := st.cardSink(i, p.Disk.Name)
		rc, err := p.Execute(ctx, sink)
		if rc == nil { // refused before it was opened: nothing written
			st.refused(i, key, p.Disk, err, ctx.Err() != nil)
			return
		}
		rc.Target, rc.Port = p.Disk.Name, p.Disk.Port()
		if err == nil && st.s.PowerOff {
			// Where the reader cannot power it off, its data is synced
			// and it can be pulled all the same.
			if how, perr := PowerOff(context.WithoutCancel(ctx), st.s.Env.Edge, p.Disk, sink); perr == nil {
				rc.PowerOff = how
			}
		}
		st.out.Emit(rc)
		st.finish(i, key, rc)
	}()
}

// cardSink is card i's: its events carry its name and move its bar.
func (st *station) cardSink(i int, name string) step.Sink {
	return step.SinkFunc(func(e step.Event) {
		switch ev := e.(type) {
		case Progress:
			st.mu.Lock()
			if s := &st.slots[i]; s.Busy() {
				s.Phase, s.Done, s.Total, s.Rate, s.ETA = ev.Phase, ev.Done, ev.Total, ev.Rate, ev.ETA
			}
			st.mu.Unlock()
			ev.Target = name
			e = ev
		case Stage:
			ev.Target = name
			e = ev
		case RateSample:
			ev.Target = name
			e = ev
		case step.Warning:
			ev.Warning = name + ": " + ev.Warning
			e = ev
		}
		st.out.Emit(e)
	})
}

// refused is a card the re-check before the open refused (a desktop
// mounted it meanwhile, it changed, it went): nothing was written, so it
// is left alone, not failed; a card the station's end stopped before its
// open is only dropped.
func (st *station) refused(i int, key string, d Disk, err error, stopped bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.running, key)
	st.slots[i].Phase = SlotEmpty
	if !stopped {
		st.leave(d, reasonOf(err))
	}
	st.out.Emit(st.snapshotLocked())
}

// reasonOf is a refusal as a reason to leave a disk alone.
func reasonOf(err error) Reason {
	r := Reason{Cause: "refused", What: err.Error()}
	var se *step.Error
	if errors.As(err, &se) {
		r.Cause, r.What, r.Next = se.Cause, se.What, se.Next
	}
	return r
}

// finish records card i's verdict.
func (st *station) finish(i int, key string, rc *Receipt) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.running, key)
	s := &st.slots[i]
	s.Rate, s.ETA, s.Verdict, s.PowerOff = 0, 0, rc.Verdict(), rc.PowerOff
	if rc.Result == "failed" {
		s.Phase = SlotFailed
		st.res.Failed++
	} else {
		s.Phase = SlotPullMe
		st.res.Written++
	}
	st.res.Cards = append(st.res.Cards, rc)
	st.out.Emit(st.snapshotLocked())
}

func (st *station) busy() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.running) > 0
}

func (st *station) emit() {
	st.mu.Lock()
	p := st.snapshotLocked()
	st.mu.Unlock()
	st.out.Emit(p)
}

func (st *station) snapshotLocked() StationProgress {
	p := StationProgress{At: time.Now(), Slots: append([]SlotState(nil), st.slots...),
		LeftAlone: append([]LeftAlone(nil), st.res.LeftAlone...), Written: st.res.Written, Failed: st.res.Failed}
	for _, s := range st.slots {
		if s.Busy() {
			p.Rate += s.Rate
		}
	}
	return p
}

// result is nil when no card failed.
func (st *station) result() error {
	if st.res.Failed == 0 {
		return nil
	}
	var bad, next []string
	for _, rc := range st.res.Cards {
		if rc.Result == "failed" {
			bad = append(bad, rc.Label()+" "+rc.Verdict())
			if rc.Next != "" {
				next = append(next, rc.Target+": "+rc.Next)
			}
		}
	}
	return &step.Error{Cause: CauseCardsFailed, Code: step.ExitFailed,
		What: fmt.Sprintf("%d of %d cards failed: %s", st.res.Failed, len(st.res.Cards), strings.Join(bad, "; ")),
		Next: strings.Join(next, "; ")}
}
