package media

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// stationEvents collects a station's events and wakes the test's waits.
type stationEvents struct {
	testkit.Changes
	mu   sync.Mutex
	last StationProgress
	all  []step.Event
}

func (s *stationEvents) Emit(e step.Event) {
	s.mu.Lock()
	s.all = append(s.all, e)
	if p, ok := e.(StationProgress); ok {
		s.last = p
	}
	s.mu.Unlock()
	s.Changed()
}

func (s *stationEvents) now() StationProgress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *stationEvents) slot(name string) SlotState {
	for _, sl := range s.now().Slots {
		if sl.Slot == name {
			return sl
		}
	}
	return SlotState{}
}

func (s *stationEvents) leftAlone(target string) *LeftAlone {
	for _, l := range s.now().LeftAlone {
		if l.Target == target {
			return &l
		}
	}
	return nil
}

func (s *stationEvents) saw(what string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.all {
		if st, ok := e.(Stage); ok && strings.Contains(st.Message, what) {
			return true
		}
	}
	return false
}

// Station mode on loop devices presented as USB sticks through a fake
// sysfs, found through the same hotplug source the Write step's list
// follows: a stick already plugged in at the start is left alone, each
// card plugged in later is written and verified, powered off (sysfs
// delete) and shown as "pull me"; a USB disk that is not removable is
// listed and left alone, untouched; a dying card fails and is never
// counted as done; stopping ends the station with each card's serial.
func TestStationWritesEachCardAsItArrives(t *testing.T) {
	raw, zst := randomImage(t, 8<<20)
	f := testkit.NewFakeDisks(t)
	old := loopDevice(t, t.TempDir(), 16<<20, 0x5a)
	f.Plug("sdb", 1, old, true, "BEFORE0001")

	ev := &stationEvents{}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	st := &Station{Env: Env{Edge: System{Root: f.Root}, Runner: proc.Host{}}, Req: Request{Image: zst}, PowerOff: true}
	type end struct {
		res *StationResult
		err error
	}
	done := make(chan end, 1)
	go func() {
		res, err := st.Run(ctx, ev)
		done <- end{res, err}
	}()
	const bound = 2 * time.Minute
	ev.Wait(t, bound, "the station to start waiting", func() bool { return ev.saw("waiting for USB sticks and SD cards") })
	// The stick there before is listed in a progress event of its own,
	// which may come after the waiting stage.
	ev.Wait(t, bound, "the stick there before to be listed", func() bool { return ev.leftAlone("sdb") != nil })
	if l := ev.leftAlone("sdb"); l == nil || l.Cause != "present-at-start" {
		t.Fatalf("the stick there before the station: %+v", ev.now())
	}

	card := loopDevice(t, t.TempDir(), 16<<20, 0x5a)
	f.Plug("sdc", 2, card, true, "CARD0002")
	ev.Wait(t, bound, "sdc to be written, verified and shown as pull me", func() bool { return ev.slot("usb 2-2").Phase == SlotPullMe })
	if s := ev.slot("usb 2-2"); s.Target != "sdc" || s.Serial != "CARD0002" || s.Verdict != "verified" || s.PowerOff != "removed from the system (sysfs delete)" {
		t.Errorf("slot usb 2-2: %+v", s)
	}
	if got := readDev(t, card, len(raw)); !bytes.Equal(got, raw) {
		t.Error("the card does not hold the image")
	}
	if !f.Deleted("sdc") {
		t.Error("sdc was not deleted from the SCSI layer")
	}
	f.Unplug("sdc") // what the kernel does after the delete

	hdd := loopDevice(t, t.TempDir(), 16<<20, 0x5a)
	f.Plug("sdd", 3, hdd, false, "HDD00003")
	ev.Wait(t, bound, "the USB hard disk to be left alone", func() bool { return ev.leftAlone("sdd") != nil })
	if l := ev.leftAlone("sdd"); l.Cause != CauseFixed || !strings.Contains(l.Why, "not removable") {
		t.Errorf("left alone: %+v", l)
	}

	dying := testkit.NewSlowDisk(t, 16, 200, 400, "SLOWDISK_FAIL_AT_MB=2")
	f.Plug("sde", 4, dying.Dev, true, "DYING0004")
	ev.Wait(t, bound, "the dying card to fail", func() bool { return ev.slot("usb 2-4").Phase == SlotFailed })
	if s := ev.slot("usb 2-4"); !strings.Contains(s.Verdict, "input/output error: throw it away") || s.PowerOff != "" {
		t.Errorf("slot usb 2-4: %+v", s)
	}
	if p := ev.now(); p.Written != 1 || p.Failed != 1 {
		t.Errorf("counts %d written, %d failed", p.Written, p.Failed)
	}
	// Pulled, its slot is empty again; the powered-off card's stays
	// "pull me" (it is gone from the list, still in its slot).
	f.Unplug("sde")
	ev.Wait(t, bound, "the failed card's slot to be empty once it is pulled", func() bool { return ev.slot("usb 2-4").Phase == SlotEmpty })
	if s := ev.slot("usb 2-2"); s.Phase != SlotPullMe {
		t.Errorf("slot usb 2-2 after sdc went: %+v", s)
	}

	stop()
	var e end
	select {
	case e = <-done:
	case <-time.After(bound):
		t.Fatal("the station did not end when stopped")
	}
	if causeOf(e.err) != CauseCardsFailed || step.ExitCodeOf(e.err) != 1 {
		t.Errorf("err %v", e.err)
	}
	if len(e.res.Cards) != 2 || e.res.Written != 1 || e.res.Failed != 1 {
		t.Fatalf("result %+v", e.res)
	}
	text := strings.Join(e.res.Lines(), "\n")
	for _, want := range []string{"station: 1 written, 1 failed", "written: sdc serial CARD0002: verified", "FAILED:  sde serial DYING0004: failed at", "left alone: sdb", "left alone: sdd"} {
		if !strings.Contains(text, want) {
			t.Errorf("end lacks %q:\n%s", want, text)
		}
	}
	for _, d := range []string{old, hdd} {
		if !bytes.Equal(readDev(t, d, 16<<20), bytes.Repeat([]byte{0x5a}, 16<<20)) {
			t.Errorf("%s was written", d)
		}
	}
}

// The text face's line: each slot with its card and how far it has come,
// a verified card's "pull me", a failed one's verdict, an empty slot,
// then the counts.
func TestStationProgressText(t *testing.T) {
	p := StationProgress{Written: 1, Failed: 1, Slots: []SlotState{
		{Slot: "usb 2-1", Target: "sdb", Phase: PhaseWrite, Done: 47, Total: 100, Rate: 30 << 20},
		{Slot: "usb 2-2", Target: "sdc", Phase: SlotPullMe, Verdict: "verified"},
		{Slot: "usb 2-3", Target: "sdd", Phase: SlotFailed, Verdict: "failed at 112 MiB: input/output error: throw it away"},
		{Slot: "mmc0", Target: "mmcblk0", Phase: SlotEmpty},
	}}
	want := "usb 2-1: sdb write  47% 30.0 MiB/s · usb 2-2: sdc verified, pull me · usb 2-3: sdd failed at 112 MiB: input/output error: throw it away · mmc0: empty · 1 written, 1 failed"
	if got := p.Text(); got != want {
		t.Errorf("text\n%s\nwant\n%s", got, want)
	}
	if got := (StationProgress{}).Text(); got != "waiting for a stick or card · 0 written, 0 failed" {
		t.Errorf("idle text %q", got)
	}
}
