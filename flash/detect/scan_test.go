package detect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// fakeBus is a Lister over records held in memory, with per-node access
// errors: the hardware edge for tests that are not about sysfs.
type fakeBus struct {
	mu     sync.Mutex
	recs   []detect.Record
	denied map[string]error
	err    error
	lists  int
	listed testkit.Changes // after each List
}

func (f *fakeBus) List(context.Context, detect.Notef) ([]detect.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.listed.Changed()
	f.lists++
	if f.err != nil {
		return nil, f.err
	}
	return append([]detect.Record(nil), f.recs...), nil
}

func (f *fakeBus) Access(r detect.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.denied[r.Node()]
}

// waitLists waits until the bus has been listed n times in all.
func (f *fakeBus) waitLists(t *testing.T, n int) {
	t.Helper()
	f.listed.Wait(t, time.Minute, fmt.Sprintf("the bus to be listed %d times", n), func() bool { return f.count() >= n })
}

func (f *fakeBus) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeBus) set(recs ...detect.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = recs
}

func loadProfiles(t testing.TB) *profiles.Set {
	t.Helper()
	set, errs := profiles.Load(assets.Profiles(), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return set
}

func options(t testing.TB, profile string) detect.Options {
	set := loadProfiles(t)
	o := detect.Options{Profiles: set.All()}
	if profile != "" {
		p, ok := set.Get(profile)
		if !ok {
			t.Fatalf("no profile %s", profile)
		}
		o.Profile = p
	}
	return o
}

func scan(t *testing.T, l detect.Lister, o detect.Options) []detect.Device {
	t.Helper()
	devs, err := detect.Scan(context.Background(), l, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return devs
}

func warning(d detect.Device, id string) (detect.Warning, bool) {
	for _, w := range d.Warnings {
		if w.ID == id {
			return w, true
		}
	}
	return detect.Warning{}, false
}

// The --json record: exactly the fields of the issue, lowercase hex ids,
// warnings an empty array when there are none; non-Jetson devices left out.
func TestScanJSONRecord(t *testing.T) {
	dir := tree(t, orinNano, hub, keyboard, ttl)
	devs := scan(t, detect.NewSysfs(dir), options(t, "orin-nano-devkit"))
	b, err := json.Marshal(devs)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("want only the Jetson, got %s", b)
	}
	want := map[string]any{
		"usb_instance": "1-8.4", "vendor_id": "0955", "product_id": "7523", "mode": "recovery",
		"module": "Orin Nano 8GB (P3767-0003/-0005)", "som": "orin-nano", "speed": 480.0, "warnings": []any{},
	}
	for k, v := range want {
		if gv, ok := got[0][k]; !ok || !jsonEqual(gv, v) {
			t.Errorf("%s = %#v, want %#v", k, gv, v)
		}
	}
	if got[0]["node"] != "/dev/bus/usb/001/005" || got[0]["manufacturer"] != "NVIDIA Corp." {
		t.Errorf("extra fields: %s", b)
	}
	if p := got[0]["profiles"]; !jsonEqual(p, []any{"orin-nano-devkit", "orin-nano-super-devkit"}) {
		t.Errorf("profiles %v", p)
	}
	if !strings.Contains(string(b), `"cannot_tell":"the devkit module (P3767-0005) from a production one, the carrier board, and super mode"`) {
		t.Errorf("cannot_tell missing: %s", b)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestScanWarningsCarryTheNextStep(t *testing.T) {
	bus := &fakeBus{recs: []detect.Record{orinNano, orinNX, topo},
		denied: map[string]error{orinNano.Node(): &fs.PathError{Op: "access", Path: orinNano.Node(), Err: syscall.EACCES}}}
	devs := scan(t, bus, options(t, "orin-nano-devkit"))
	if len(devs) != 3 || devs[0].USBInstance != "1-8.4" || devs[1].USBInstance != "1-10" || devs[2].USBInstance != "3-2" {
		t.Fatalf("want port order 1-8.4, 1-10, 3-2: %+v", devs)
	}
	nano, mcu, nx := devs[0], devs[1], devs[2]

	w, ok := warning(nano, detect.WarnNoAccess)
	if !ok || !strings.Contains(w.Warning, "/dev/bus/usb/001/005 is not accessible to this user") || !strings.Contains(w.Next, "jetup doctor --fix") {
		t.Errorf("access warning %+v", w)
	}
	w, ok = warning(nx, detect.WarnSlowLink)
	if !ok || !strings.Contains(w.Warning, "12 Mb/s") || !strings.Contains(w.Next, "cable") {
		t.Errorf("speed warning %+v", w)
	}
	if nano.Has(detect.WarnSlowLink) || mcu.Has(detect.WarnSlowLink) {
		t.Error("480 Mb/s, or a debug MCU at 12 Mb/s (its normal speed), is no speed problem")
	}
	w, ok = warning(nx, detect.WarnOtherModule)
	if !ok || !strings.Contains(w.Warning, "Orin NX 16GB") || !strings.Contains(w.Warning, "orin-nano-devkit") ||
		!strings.Contains(w.Next, "orin-nx-devkit, orin-nx-super-devkit, orin-nx-xaviernx-devkit") {
		t.Errorf("module warning %+v", w)
	}
	if nano.Has(detect.WarnOtherModule) {
		t.Error("the Orin Nano fits orin-nano-devkit")
	}
	for _, d := range []detect.Device{nano, nx} {
		w, ok := warning(d, detect.WarnSeveral)
		if !ok || !strings.Contains(w.Warning, "2 boards are in recovery mode") || !strings.Contains(w.Next, "usb_instance") {
			t.Errorf("%s several warning %+v", d.USBInstance, w)
		}
	}
	if mcu.Has(detect.WarnSeveral) || mcu.Mode != detect.DebugMCU || !strings.Contains(mcu.Note, "boardctl") {
		t.Errorf("debug MCU %+v", mcu)
	}

	// Without a profile there is nothing to compare the module with.
	for _, d := range scan(t, bus, detect.Options{}) {
		if d.Has(detect.WarnOtherModule) {
			t.Errorf("%s: module warning without a profile", d.USBInstance)
		}
	}
}

func TestScanMissingNodeAndUnsupportedModule(t *testing.T) {
	tx2 := detect.Record{Bus: 1, Dev: 2, Path: "1", Vendor: 0x0955, Product: 0x7c18, SpeedMbps: 480}
	bus := &fakeBus{recs: []detect.Record{tx2}, denied: map[string]error{tx2.Node(): &fs.PathError{Op: "access", Path: tx2.Node(), Err: fs.ErrNotExist}}}
	d := scan(t, bus, options(t, "xavier-nx-devkit"))[0]
	if w, ok := warning(d, detect.WarnNoAccess); !ok || !strings.Contains(w.Warning, "does not exist") || !strings.Contains(w.Next, "container") {
		t.Errorf("missing node: %+v", w)
	}
	if w, ok := warning(d, detect.WarnUnsupported); !ok || !strings.Contains(w.Warning, "jetpack-nixos does not support") {
		t.Errorf("unsupported: %+v", w)
	}
	if w, ok := warning(d, detect.WarnOtherModule); !ok || !strings.Contains(w.Next, "no profile knows 0955:7c18") {
		t.Errorf("mismatch: %+v", w)
	}
	if d.SoM != "" {
		t.Errorf("som %q for a TX2", d.SoM)
	}
}

func TestScanListFailureIsAStepError(t *testing.T) {
	_, err := detect.Scan(context.Background(), &fakeBus{err: errors.New("LIBUSB_ERROR_IO")}, detect.Options{}, nil)
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != "usb-list" || se.Next == "" || !strings.Contains(err.Error(), "LIBUSB_ERROR_IO") {
		t.Errorf("%#v", err)
	}
}

func TestPick(t *testing.T) {
	o := options(t, "orin-nano-devkit")
	flashing := detect.Record{Bus: 1, Dev: 8, Path: "8.4", Vendor: 0x1d6b, Product: 0x0104, Manufacturer: "NixOS", ProductName: "serial", SpeedMbps: 480}
	cases := []struct {
		name     string
		recs     []detect.Record
		instance string
		want     string // usb_instance, or the cause
		next     string
	}{
		{"one board", []detect.Record{orinNano, hub}, "", "1-8.4", ""},
		{"none", []detect.Record{hub, keyboard}, "", detect.CauseNoBoard, "put the Jetson Orin Nano Developer Kit in USB recovery mode"},
		{"none but the debug MCU", []detect.Record{topo}, "", detect.CauseNoBoard, "boardctl -t topo recovery"},
		{"none but a flash running", []detect.Record{flashing}, "", detect.CauseNoBoard, "a flash is in its device phase at 1-8.4"},
		{"several", []detect.Record{orinNano, orinNX}, "", detect.CauseSeveralBoards, "1-8.4 (Orin Nano 8GB (P3767-0003/-0005)), 3-2 (Orin NX 16GB (P3767-0000))"},
		{"several, one chosen", []detect.Record{orinNano, orinNX}, "3-2", "3-2", ""},
		{"chosen one gone", []detect.Record{orinNano}, "3-2", detect.CauseInstanceMissing, "boards in recovery mode are at: 1-8.4"},
		{"chosen one is no board", []detect.Record{orinNano, topo}, "1-10", detect.CauseNotInRecovery, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := detect.Find(context.Background(), &fakeBus{recs: c.recs}, o, c.instance, nil)
			if err == nil {
				if d.USBInstance != c.want {
					t.Errorf("picked %s, want %s", d.USBInstance, c.want)
				}
				return
			}
			var se *step.Error
			if !errors.As(err, &se) || se.Cause != c.want || step.ExitCodeOf(err) != 2 || !strings.Contains(se.Next, c.next) {
				t.Errorf("got %v (cause %q, next %q, exit %d), want cause %s next ~ %q", err, se.Cause, se.Next, step.ExitCodeOf(err), c.want, c.next)
			}
		})
	}
}

// Find passes the chosen board's warnings on as step.Warning events.
func TestFindEmitsTheBoardsWarnings(t *testing.T) {
	var got []step.Warning
	sink := step.SinkFunc(func(e step.Event) {
		if w, ok := e.(step.Warning); ok {
			got = append(got, w)
		}
	})
	if _, err := detect.Find(context.Background(), &fakeBus{recs: []detect.Record{orinNX}}, options(t, "orin-nx-devkit"), "", sink); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0].Warning, "full speed") {
		t.Errorf("warnings %+v", got)
	}
}
