package tui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/nixrun"
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

// The installer's nix build shows its progress under the spinner, as the
// flash step's build does, with the build log below it.
func TestWriteScreenShowsTheInstallerBuildProgress(t *testing.T) {
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
