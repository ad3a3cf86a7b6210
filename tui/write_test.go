package tui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// startWrite starts the wizard for a Pi (doctor, then write) against the
// simulated bench, with the stick's pace and size given.
func startWrite(t *testing.T, w, h int, rate float64, size int64) (*teatest.TestModel, *testkit.Screen, *Model, *sim.Disks) {
	t.Helper()
	set, errs := profiles.Load(assets.Profiles(), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	b := sim.Hardware()
	disks := b.Disks.(*sim.Disks)
	disks.WriteRate, disks.ReadRate, disks.Size = rate, 2*rate, size
	b.Installer = &sim.Installer{Pace: 10 * time.Millisecond}
	m := New(Options{Profiles: set, Profile: "rpi4", StateDir: t.TempDir(), Hardware: b, Sim: true})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	t.Cleanup(func() { _ = tm.Quit(); m.Close() })
	scr := testkit.NewScreen(tm.Output(), w, h)
	scr.WaitFor(t, wait, "11 checks:")
	press(tm, tea.KeyEnter)
	return tm, scr, m, disks
}

func checkWriteWidth(t *testing.T, text string, w int) {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if n := len([]rune(l)); n > w {
			t.Errorf("line %d is %d columns wide: %q", i, n, l)
		}
	}
}

func TestWriteScreenBuildsWritesVerifiesAt80x24(t *testing.T) {
	tm, scr, m, _ := startWrite(t, 80, 24, 1<<30, 30_752_636_928)
	text := scr.WaitFor(t, wait, "Which image goes on the stick?", "Build the profile's installer", "An image file")
	checkWriteWidth(t, text, 80)
	press(tm, tea.KeyEnter)
	text = scr.WaitFor(t, wait, "sda", "usb", "SanDisk Ultra Fit", "nvme0n1", "✗ system-disk", "! mounted", "they are unmounted when you confirm")
	checkWriteWidth(t, text, 80)
	press(tm, tea.KeyUp)
	scr.WaitFor(t, wait, "is this computer's system disk") // the excluded disk under the cursor says why
	press(tm, tea.KeyDown)
	press(tm, tea.KeyEnter) // the first writable disk is preselected
	text = scr.WaitFor(t, wait, "Erase /dev/sda", "exfat", "they will be unmounted", "Press y")
	checkWriteWidth(t, text, 80)
	tm.Type("y")
	text = scr.WaitFor(t, wait, "✓ written and verified", "result:  verified", "p powers the stick off")
	checkWriteWidth(t, text, 80)
	tm.Type("p")
	scr.WaitFor(t, wait, "pull it out now")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "✓ Write", "▸ Watch")
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

// A stick over 64 GB needs its name typed; the list follows hotplug; the
// rate graph shows at 200x60.
func TestWriteScreenTypedNameHotplugAndGraphAt200x60(t *testing.T) {
	tm, scr, _, disks := startWrite(t, 200, 60, 48<<20, 128_035_676_160)
	scr.WaitFor(t, wait, "Which image goes on the stick?")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "sda", "128.0 GB", "4C530001230518117373")
	if _, err := disks.PowerOff(t.Context(), media.Disk{Name: "sda"}); err != nil {
		t.Fatal(err)
	}
	text := scr.WaitFor(t, wait, "nvme0n1")
	deadline := time.Now().Add(wait)
	for strings.Contains(text, "SanDisk") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		text = scr.Text()
	}
	if strings.Contains(text, "SanDisk") {
		t.Fatalf("the unplugged stick is still listed:\n%s", text)
	}
	disks.Plug()
	scr.WaitFor(t, wait, "SanDisk Ultra Fit")
	press(tm, tea.KeyDown, tea.KeyEnter) // the cursor stayed on nvme0n1 while the stick was away
	scr.WaitFor(t, wait, "Type sda and press enter", "over 64 GB")
	tm.Type("sdb")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, `typed "sdb", not "sda": nothing was written`)
	tm.Type("q") // captured by the name field, not quit
	press(tm, tea.KeyBackspace)
	tm.Type("sda")
	press(tm, tea.KeyEnter)
	text = scr.WaitFor(t, wait, "device ", "peak ", "bottleneck")
	checkWriteWidth(t, text, 200)
	text = scr.WaitFor(t, wait, "✓ written and verified")
	checkWriteWidth(t, text, 200)
}
