package tui

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// writeBench is the simulated bench for a Pi, with the stick's pace and
// size given.
func writeBench(rate float64, size int64) (Options, *sim.Disks) {
	b := sim.Hardware()
	disks := b.Disks.(*sim.Disks)
	disks.WriteRate, disks.ReadRate, disks.Size = rate, 2*rate, size
	b.Installer = &sim.Installer{Pace: 10 * time.Millisecond}
	return Options{Profile: "rpi4", Hardware: b, Sim: true}, disks
}

// freshStick puts the simulated stick back as sold, an exFAT stick, before
// a test writes it. sim.Disks keeps one backing file per process
// (stick.img in its TMPDIR/jetup-sim-<pid>-* directory), which the last
// write filled; should sim move it, the walk's "exfat" check fails.
func freshStick(t *testing.T) {
	t.Helper()
	old, err := filepath.Glob(filepath.Join(os.TempDir(), "jetup-sim-"+strconv.Itoa(os.Getpid())+"-*", "stick.img"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

func TestWriteScreen(t *testing.T) {
	t.Parallel()
	t.Run("WalkBuildsWritesVerifiesAt80x24", func(t *testing.T) {
		o, _ := writeBench(1<<30, 30_752_636_928)
		p := runProgram(t, 80, 24, o)
		p.waitView("12 checks:")
		p.key(tea.KeyEnter)
		writeBuildsWritesVerifies(t, p)
	})
	t.Run("TypedNameHotplugAndGraphAt200x60", writeTypedNameHotplugAndGraphAt200x60)
}

func writeBuildsWritesVerifies(t *testing.T, u ui) {
	t.Helper()
	freshStick(t)
	text := u.waitView("Which image goes on the stick?", "Build the profile's installer", "An image file")
	checkWidth(t, text, 80)
	u.key(tea.KeyEnter)
	text = u.waitView("sda", "usb", "SanDisk Ultra Fit", "nvme0n1", "✗ system-disk", "! mounted", "they are unmounted when you confirm")
	checkWidth(t, text, 80)
	u.key(tea.KeyUp)
	u.waitView("is this computer's system disk") // the excluded disk under the cursor says why
	u.key(tea.KeyDown)
	u.key(tea.KeyEnter) // the first writable disk is preselected
	text = u.waitView("Erase /dev/sda", "exfat", "they will be unmounted", "Press y")
	checkWidth(t, text, 80)
	u.typ("y")
	text = u.waitView("✓ written and verified", "result:  verified", "p powers the stick off")
	checkWidth(t, text, 80)
	u.typ("p")
	u.waitView("pull it out now")
	u.key(tea.KeyEnter)
	u.waitView("✓ Write", "▸ Watch")
	m := u.model()
	rec := m.sess.Run.Snapshot()
	var ws *runrec.StepRecord
	for i := range rec.Steps {
		if rec.Steps[i].Step == step.Write {
			ws = &rec.Steps[i]
		}
	}
	if ws == nil || ws.Outcome != runrec.Success {
		t.Fatalf("write step %+v", ws)
	}
	var rc media.Receipt
	if err := json.Unmarshal(ws.Details, &rc); err != nil || rc.Verify.Result != "ok" || rc.Device.Serial != "4C530001230518117373" || rc.PowerOff == "" {
		t.Errorf("receipt %v %+v", err, rc)
	}
	if rec.Facts[step.FactInstaller] == "" || len(ws.Logs) == 0 {
		t.Errorf("installer fact %v, logs %v", rec.Facts, ws.Logs)
	}
}

// An image file of the person's own; a stick over 64 GB needs its name
// typed; the list follows hotplug; the rate graph shows at 200x60.
func writeTypedNameHotplugAndGraphAt200x60(t *testing.T) {
	freshStick(t)
	// A small image of the person's own, written slowly enough for the
	// graph's samples (one a second).
	img := rawImage(t, 12<<20)
	o, disks := writeBench(8<<20, 128_035_676_160)
	d := driveStep(t, 200, 60, o, step.Write)
	d.waitView("Which image goes on the stick?", "An image file…")
	d.key(tea.KeyDown, tea.KeyEnter)
	d.waitView("Image file (raw, .zst, .xz, .gz, .bz2")
	d.typ(img) // every key goes to the field
	if d.m.confirmQuit || d.quit || d.m.active().id != step.Write {
		t.Fatal("typing the image's path reached the wizard's keys")
	}
	d.key(tea.KeyEnter)
	d.waitView("Image: "+img, "sda", "128.0 GB", "4C530001230518117373")
	if f := d.m.sess.Facts[step.FactInstaller]; f != img {
		t.Errorf("installer fact %q, want the file", f)
	}
	if _, err := disks.PowerOff(t.Context(), media.Disk{Name: "sda"}); err != nil {
		t.Fatal(err)
	}
	d.until("the unplugged stick to leave the list", func() bool {
		text := d.view()
		return strings.Contains(text, "nvme0n1") && !strings.Contains(text, "SanDisk")
	})
	disks.Plug()
	d.waitView("SanDisk Ultra Fit")
	d.key(tea.KeyDown, tea.KeyEnter) // the cursor stayed on nvme0n1 while the stick was away
	d.waitView("Type sda and press enter", "over 64 GB")
	d.typ("sdb")
	d.key(tea.KeyEnter)
	d.waitView(`typed "sdb", not "sda": nothing was written`)
	d.typ("q") // captured by the name field, not quit
	if d.m.confirmQuit || d.quit {
		t.Fatal("q in the name field quit the wizard")
	}
	d.key(tea.KeyBackspace)
	d.typ("sda")
	d.key(tea.KeyEnter)
	// While writing: the device's and the image's rates, and what held the
	// write back, as measured (which one depends on this machine's load).
	// Asked after each message: the write's graph lasts from its sample to
	// the read-back's first one, which a loaded machine may deliver with
	// the next in one burst.
	var text string
	d.untilEach("the rate graph of the write", func() bool {
		text = d.view()
		return strings.Contains(text, "device ") && strings.Contains(text, "image  ") && strings.Contains(text, "peak ") &&
			(strings.Contains(text, "the device is the bottleneck") || strings.Contains(text, "decompression is the bottleneck") ||
				strings.Contains(text, "· balanced"))
	})
	checkWidth(t, text, 200)
	text = d.waitView("✓ written and verified")
	checkWidth(t, text, 200)
}

// The installer's nix build shows its progress under the spinner, as the
// flash step's build does, with the build log below it.
func TestWriteScreenShowsTheInstallerBuildProgress(t *testing.T) {
	t.Parallel()
	w := newWriteScreen(&Session{}, DefaultStyles()).(*writeScreen)
	w.SetSize(80, 24)
	w.state = wsBuilding
	w.onEvent(step.Log{Line: "building '/nix/store/9x2k1m3v0y8c4q7s5b6n1d2f3g4h5j6k-installer.drv'"})
	if strings.Contains(w.View(), "built") {
		t.Fatalf("progress before nix reported any:\n%s", w.View())
	}
	w.onEvent(media.BuildProgress{Phase: media.PhaseBuild, Ref: "x#installer",
		Progress: nixrun.Progress{Built: 1, Total: 2, Running: 1, Downloaded: 1, Downloads: 1, Activity: "building sd-image"}})
	view := w.View()
	for _, want := range []string{"building the installer with nix", "1/2 built, 1/1 fetched · building sd-image", "building '/nix/store/"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	for _, l := range strings.Split(view, "\n") {
		if ansi.StringWidth(l) > 80 {
			t.Errorf("wider than 80 columns: %q", l)
		}
	}
}

// rawImage is a raw Raspberry Pi disk image of size bytes (more than 10
// MiB: an MBR, the FAT firmware partition the board check looks for, a
// Linux partition with some data in it), as a person might pick with "An
// image file…".
func rawImage(t *testing.T, size int) string {
	t.Helper()
	img := make([]byte, size)
	e := img[446:]
	e[4] = 0x0c
	binary.LittleEndian.PutUint32(e[8:], 2048)
	binary.LittleEndian.PutUint32(e[12:], 18432)
	sim.PiFirmware(img[2048*512 : 20480*512])
	e = img[446+16:]
	e[4] = 0x83
	binary.LittleEndian.PutUint32(e[8:], 20480)
	binary.LittleEndian.PutUint32(e[12:], uint32(size/512-20480))
	img[510], img[511] = 0x55, 0xaa
	for i := 20480 * 512; i < size; i += 4096 {
		img[i] = byte(i >> 12)
	}
	p := filepath.Join(t.TempDir(), "custom.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// On a bench's next board the installer chosen for the board before is
// taken again without asking; the disk is still picked for every card. The
// first board, with the same installer fact, is asked.
func TestWriteScreenNextBoardTakesTheCarriedInstaller(t *testing.T) {
	t.Parallel()
	img := rawImage(t, 12<<20)
	for _, next := range []bool{false, true} {
		o, _ := writeBench(1<<30, 30_752_636_928)
		d := newDriver(t, o)
		d.m.sess.Facts[step.FactInstaller] = img
		if next {
			d.m.sess.carry = &benchCarry{from: "board 1 (run test)", skip: map[step.ID]string{}}
		}
		d.openStep(200, 40, step.Write)
		if !next {
			d.waitView("Which image goes on the stick?", "The installer chosen before:")
			continue
		}
		text := d.waitView("Image: ", filepath.Base(img), "sda")
		if strings.Contains(text, "Which image goes on the stick?") || d.m.active().id != step.Write {
			t.Errorf("the next board was asked for its image again:\n%s", text)
		}
	}
}
