package tui

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// plainView is the screen without styles, every line checked against
// the width.
func plainView(t *testing.T, w *writeScreen, width int) string {
	t.Helper()
	text := ansi.Strip(w.View())
	for _, l := range strings.Split(text, "\n") {
		if ansi.StringWidth(l) > width {
			t.Errorf("wider than %d columns: %q", width, l)
		}
	}
	return text
}

// The Write step's views of several sticks and of the station, as values:
// a bar per stick with its phase and the combined rate, then each
// verdict, the bad one named; the station's bar per slot, "pull me", the
// failed card, what was left alone, and the counts.
func TestWriteScreenShowsABarPerStickAndPerSlot(t *testing.T) {
	t.Parallel()
	w := newWriteScreen(&Session{}, DefaultStyles()).(*writeScreen)
	w.SetSize(80, 24)
	im := &media.Image{Name: "nixos.img.zst"}
	disk := func(name, port, serial string) media.Disk {
		return media.Disk{Name: name, Path: "/dev/" + name, Serial: serial, Transport: media.USB, Removable: true,
			SysPath: "/devices/pci0000:00/0000:00:14.0/usb2/" + port + "/" + port + ":1.0/host6/target6:0:0/6:0:0:0/block/" + name}
	}
	w.batch = &media.Batch{Plans: []*media.Plan{{Image: im, Disk: disk("sdb", "2-1", "AAA1")}, {Image: im, Disk: disk("sdc", "2-2", "BBB2")},
		{Image: im, Disk: disk("sdd", "2-3", "CCC3")}}}
	w.state = wsWriting
	w.onEvent(media.TargetsProgress{Rate: 60 << 20, Targets: []media.TargetProgress{
		{Target: "sdb", Label: "sdb (usb 2-1, serial AAA1)", Phase: "write", Done: 50, Total: 100, Rate: 30 << 20},
		{Target: "sdc", Label: "sdc (usb 2-2, serial BBB2)", Phase: "verify", Done: 25, Total: 100, Rate: 30 << 20},
		{Target: "sdd", Label: "sdd (usb 2-3, serial CCC3)", Phase: "failed", Verdict: "failed at 112 MiB: input/output error: throw it away"},
	}})
	// A bar of a stick alone is not drawn as the single-stick bar.
	w.onEvent(media.Progress{Target: "sdb", Phase: "write", Done: 99, Total: 100})
	view := plainView(t, w, 80)
	for _, want := range []string{"Writing nixos.img.zst → 3 sticks, decoded once · 60.0 MiB/s in all",
		"sdb (usb 2-1, serial AAA1)", " 50% write  30.0 MiB/s", "sdc (usb 2-2, serial BBB2)", " 25% verify 30.0 MiB/s",
		"✗ failed at 112 MiB: input/output error: throw it away"} {
		if !strings.Contains(view, want) {
			t.Errorf("writing view lacks %q:\n%s", want, view)
		}
	}
	if strings.Count(view, "%") != 2 {
		t.Errorf("want a bar for each stick still written, two:\n%s", view)
	}
	w.receipts = []*media.Receipt{
		{Result: "verified", Target: "sdb", Port: "usb 2-1", Device: media.Identity{Serial: "AAA1"}, PowerOff: "powered off by udisks"},
		{Result: "verified", Target: "sdc", Port: "usb 2-2", Device: media.Identity{Serial: "BBB2"}},
		{Result: "failed", Target: "sdd", Port: "usb 2-3", Device: media.Identity{Serial: "CCC3"}, Cause: "target-io-error", FailedAt: 112 << 20},
	}
	w.state = wsDone
	view = plainView(t, w, 80)
	for _, want := range []string{"Done nixos.img.zst → 3 sticks", "2 of 3 verified, 1 failed", "good: sdb (usb 2-1, serial AAA1) verified",
		"  BAD:  sdd (usb 2-3, serial CCC3) failed at 112 MiB: input/output error:",
		"✓ verified · powered off by udisks: pull it out now", "p powers the verified sticks off"} {
		if !strings.Contains(view, want) {
			t.Errorf("done view lacks %q:\n%s", want, view)
		}
	}

	s := newWriteScreen(&Session{}, DefaultStyles()).(*writeScreen)
	s.SetSize(80, 24)
	s.image, s.state = "/images/nixos.img.zst", wsStation
	s.onEvent(media.StationProgress{Written: 1, Failed: 1, Rate: 28 << 20, Slots: []media.SlotState{
		{Slot: "usb 2-1", Target: "sdb", Serial: "AAA1", Phase: "write", Done: 30, Total: 100, Rate: 28 << 20},
		{Slot: "usb 2-2", Target: "sdc", Serial: "BBB2", Phase: media.SlotPullMe, Verdict: "verified"},
		{Slot: "usb 2-3", Target: "sdd", Serial: "CCC3", Phase: media.SlotFailed, Verdict: "failed at 2 MiB: input/output error: throw it away"},
		{Slot: "mmc0", Phase: media.SlotEmpty},
	}, LeftAlone: []media.LeftAlone{{Target: "sde", Label: "sde (usb 2-4, serial DDD4)", Cause: "fixed-disk", Why: "a USB disk that is not removable"}}})
	view = plainView(t, s, 80)
	for _, want := range []string{"Station: nixos.img.zst · 1 written, 1 failed · 28.0 MiB/s in all",
		"usb 2-1    sdb serial AAA1", " 30% write   28.0 MiB/s", "usb 2-2    sdc serial BBB2", "✓ verified: pull me",
		"✗ failed at 2 MiB: input/output error: throw it away", "mmc0       empty",
		"Left alone:", "sde (usb 2-4, serial DDD4): a USB disk that is not removable"} {
		if !strings.Contains(view, want) {
			t.Errorf("station view lacks %q:\n%s", want, view)
		}
	}
}

// fakeBenchOptions is the simulated bench with its disks replaced by
// loop devices shown as USB sticks through a fake sysfs (media.System
// over testkit.FakeDisks): the real writer, the real hotplug source.
func fakeBenchOptions(t *testing.T) (Options, *testkit.FakeDisks) {
	fd := testkit.NewFakeDisks(t)
	b := sim.Hardware()
	b.Disks = media.System{Root: fd.Root}
	return Options{Profile: "rpi4", Hardware: b, Sim: true}, fd
}

// loopStick is a loop device over a file of 16 MiB of 0x5a.
func loopStick(t *testing.T) (dev, back string) {
	t.Helper()
	testkit.NeedCommands(t, "losetup")
	back = filepath.Join(t.TempDir(), "stick.bin")
	if err := os.WriteFile(back, bytes.Repeat([]byte{0x5a}, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", back).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	return dev, back
}

// pickImage chooses "An image file…" and types img.
func pickImage(d *driver, img string) {
	d.waitView("Which image goes on the stick?", "An image file…")
	d.key(tea.KeyDown, tea.KeyEnter)
	d.waitView("Image file (raw")
	d.typ(img)
	d.key(tea.KeyEnter)
}

// The Write step's multi-select on loop devices shown as USB sticks: two
// marked with space, one confirmation for both, one bar each, both
// verified and holding the image, powered off together; the run record
// keeps a receipt per stick.
func TestWriteScreenSeveralSticksAtOnce(t *testing.T) {
	t.Parallel()
	img := rawImage(t, 12<<20)
	o, fd := fakeBenchOptions(t)
	a, backA := loopStick(t)
	c, backC := loopStick(t)
	fd.Plug("sdb", 1, a, true, "AAA1")
	fd.Plug("sdc", 2, c, true, "CCC2")
	d := driveStep(t, 100, 40, o, step.Write)
	pickImage(d, img)
	d.waitView("sdb", "sdc", "marks several")
	d.key(tea.KeySpace, tea.KeyDown, tea.KeySpace)
	d.waitView("[x] sdb", "[x] sdc")
	d.key(tea.KeyEnter)
	d.waitView("Erase /dev/sdb", "Erase /dev/sdc", "Press y to erase these 2 disks")
	d.typ("y")
	d.waitView("2 of 2 verified", "good: sdb (usb 2-1, serial AAA1) verified", "good: sdc (usb 2-2, serial CCC2) verified")
	raw, _ := os.ReadFile(img)
	for _, back := range []string{backA, backC} {
		if got, _ := os.ReadFile(back); !bytes.Equal(got[:len(raw)], raw) {
			t.Errorf("%s does not hold the image", back)
		}
	}
	d.typ("p")
	d.waitView("2 powered off: pull them out now")
	if !fd.Deleted("sdb") || !fd.Deleted("sdc") {
		t.Error("the sticks were not powered off")
	}
	d.key(tea.KeyEnter)
	ws := d.waitAttempt(step.Write, "the write step to end", func(r runrec.StepRecord) bool { return r.Outcome != runrec.Running })
	var rec media.BatchRecord
	if err := json.Unmarshal(ws.Details, &rec); err != nil || ws.Outcome != runrec.Success || len(rec.Targets) != 2 ||
		rec.Targets[1].Device.Serial != "CCC2" || rec.Targets[0].PowerOff == "" {
		t.Errorf("record %v %+v", err, ws)
	}
}

// The Write step's station on the same fake bench: the stick there at the
// start is left alone, a stick plugged in is written and shows "pull me",
// a USB disk that is not removable is listed and left alone, x ends the
// station with the count and the card's serial in the run record.
func TestWriteScreenStation(t *testing.T) {
	t.Parallel()
	img := rawImage(t, 12<<20)
	o, fd := fakeBenchOptions(t)
	before, backBefore := loopStick(t)
	fd.Plug("sdb", 1, before, true, "OLD1")
	d := driveStep(t, 100, 40, o, step.Write)
	pickImage(d, img)
	d.waitView("sdb", "marks several")
	d.typ("t")
	d.waitView("Station: every USB stick or SD card plugged in from now on is erased", "Press y to start the station")
	d.typ("y")
	d.waitView("waiting for a USB stick or SD card", "Left alone:", "sdb (usb 2-1, serial OLD1): it was plugged in before the station started")
	card, backCard := loopStick(t)
	fd.Plug("sdc", 2, card, true, "NEW2")
	d.waitView("usb 2-2", "sdc serial NEW2", "✓ verified: pull me", "1 written, 0 failed")
	hdd, backHDD := loopStick(t)
	fd.Plug("sdd", 3, hdd, false, "HDD3")
	d.waitView("sdd (usb 2-3, serial HDD3): a USB disk that is not removable")
	d.typ("x")
	d.waitView("station: 1 written, 0 failed", "written: sdc serial NEW2: verified", "enter continues")
	raw, _ := os.ReadFile(img)
	if got, _ := os.ReadFile(backCard); !bytes.Equal(got[:len(raw)], raw) {
		t.Error("the card does not hold the image")
	}
	for _, back := range []string{backBefore, backHDD} {
		if got, _ := os.ReadFile(back); !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 16<<20)) {
			t.Errorf("%s was written", back)
		}
	}
	d.key(tea.KeyEnter)
	ws := d.waitAttempt(step.Write, "the write step to end", func(r runrec.StepRecord) bool { return r.Outcome != runrec.Running })
	var res media.StationResult
	if err := json.Unmarshal(ws.Details, &res); err != nil || ws.Outcome != runrec.Success || res.Written != 1 || len(res.Cards) != 1 ||
		res.Cards[0].Device.Serial != "NEW2" {
		t.Errorf("record %v %+v", err, ws)
	}
}
