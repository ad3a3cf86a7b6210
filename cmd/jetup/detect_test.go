package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/flash/detect/fakesysfs"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

var (
	nanoInRecovery = detect.Record{Bus: 1, Dev: 5, Path: "8.4", Vendor: 0x0955, Product: 0x7523, SpeedMbps: 480, Manufacturer: "NVIDIA Corp.", ProductName: "APX"}
	nxAtFullSpeed  = detect.Record{Bus: 3, Dev: 2, Path: "2", Vendor: 0x0955, Product: 0x7323, SpeedMbps: 12, Manufacturer: "NVIDIA Corp.", ProductName: "APX"}
	debugMCU       = detect.Record{Bus: 1, Dev: 7, Path: "10", Vendor: 0x0955, Product: 0x7045, SpeedMbps: 12, Manufacturer: "NVIDIA", ProductName: "TOPO"}
	usbHub         = detect.Record{Bus: 1, Dev: 3, Path: "8", Vendor: 0x05e3, Product: 0x0610, SpeedMbps: 480}
	usbKeyboard    = detect.Record{Bus: 1, Dev: 4, Path: "8.1", Vendor: 0x046d, Product: 0xc31c, SpeedMbps: 1.5}
)

// sysfsTree is a sysfs root (DIR/bus/usb/devices) holding recs and one
// garbage entry.
func sysfsTree(t *testing.T, recs ...detect.Record) (root, devices string) {
	t.Helper()
	root = t.TempDir()
	devices = filepath.Join(root, "bus", "usb", "devices")
	if err := fakesysfs.RootHub(devices, 1); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, err := fakesysfs.Add(devices, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fakesysfs.Write(devices, "2-1", map[string]string{"idVendor": "0955\n", "idProduct": "garbage\n"}); err != nil {
		t.Fatal(err)
	}
	return root, devices
}

func onlyRun(t *testing.T, state string) runrec.Record {
	t.Helper()
	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	return runs[0]
}

func TestDetectJSONFromASysfsTree(t *testing.T) {
	root, _ := sysfsTree(t, nanoInRecovery, nxAtFullSpeed, debugMCU, usbHub, usbKeyboard)
	state := t.TempDir()
	r := jetup(t, nil, "--state-dir", state, "--profile", "orin-nano-devkit", "detect", "--json", "--sysfs", root)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var devs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &devs); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(devs) != 3 {
		t.Fatalf("want the 3 Jetson devices, got %d:\n%s", len(devs), r.stdout)
	}
	nano, mcu, nx := devs[0], devs[1], devs[2]
	for k, v := range map[string]any{"usb_instance": "1-8.4", "vendor_id": "0955", "product_id": "7523", "mode": "recovery",
		"module": "Orin Nano 8GB (P3767-0003/-0005)", "som": "orin-nano", "speed": 480.0} {
		if nano[k] != v {
			t.Errorf("%s = %v, want %v", k, nano[k], v)
		}
	}
	if mcu["mode"] != "debug-mcu" || mcu["som"] != "" || nx["usb_instance"] != "3-2" || nx["speed"] != 12.0 {
		t.Errorf("mcu %v nx %v", mcu, nx)
	}
	ids := func(d map[string]any) string {
		var s []string
		for _, w := range d["warnings"].([]any) {
			s = append(s, w.(map[string]any)["id"].(string))
		}
		return strings.Join(s, ",")
	}
	if got := ids(nx); got != "module-mismatch,full-speed,several-boards" {
		t.Errorf("nx warnings %s", got)
	}
	if got := ids(nano); got != "several-boards" {
		t.Errorf("nano warnings %s", got)
	}
	rec := onlyRun(t, state)
	st := rec.Steps[0]
	var details struct{ Devices []detect.Device }
	_ = json.Unmarshal(st.Details, &details)
	if rec.Kind != "detect" || st.Outcome != runrec.Success || st.Summary != "2 boards in recovery mode" ||
		len(details.Devices) != 3 || details.Devices[2].USBInstance != "3-2" {
		t.Errorf("run record %s %s %s: %s", rec.Kind, st.Outcome, st.Summary, st.Details)
	}
	if rec.Facts[step.FactUSBInstance] != "" {
		t.Error("with two boards the run must not pick one")
	}
	logText, _ := os.ReadFile(filepath.Join(runDir(t, state), "detect.log"))
	if !strings.Contains(string(logText), `debug: 2-1: idProduct "garbage" is not a 4-digit hex id, skipped`) {
		t.Errorf("the garbage entry must be noted in the log:\n%s", logText)
	}
}

func runDir(t *testing.T, state string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(state, "runs", "*"))
	if len(dirs) != 1 {
		t.Fatalf("run dirs %v", dirs)
	}
	return dirs[0]
}

func TestDetectTextOneBoardSetsTheFacts(t *testing.T) {
	_, devices := sysfsTree(t, nanoInRecovery, usbHub)
	state := t.TempDir()
	r := jetup(t, nil, "--state-dir", state, "detect", "--sysfs", devices)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if !strings.HasPrefix(r.stdout, "1-8.4  0955:7523  recovery  Orin Nano 8GB (P3767-0003/-0005)  480 Mb/s\n") ||
		!strings.Contains(r.stdout, "the id cannot tell the devkit module") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	rec := onlyRun(t, state)
	if rec.Facts[step.FactUSBInstance] != "1-8.4" || rec.Facts[step.FactModule] != "Orin Nano 8GB (P3767-0003/-0005)" {
		t.Errorf("facts %v", rec.Facts)
	}
}

func TestDetectNoBoardExitsTwoWithTheProcedure(t *testing.T) {
	root, _ := sysfsTree(t, debugMCU, usbKeyboard)
	state := t.TempDir()
	r := jetup(t, nil, "--state-dir", state, "--profile", "orin-agx-devkit", "detect", "--sysfs", root)
	if r.code != 2 {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{"1-10  0955:7045  debug-mcu", "boardctl -t topo recovery", "No board in USB recovery mode. To put the Jetson AGX Orin Developer Kit in recovery mode:",
		"  2. If the devkit is off: press and hold Force Recovery", "0955:7023 or 0955:7223"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	st := onlyRun(t, state).Steps[0]
	if st.Outcome != runrec.Refused || st.Cause != detect.CauseNoBoard || !strings.Contains(st.Next, "boardctl") {
		t.Errorf("run record step %+v", st)
	}

	// --json: the array (no board in it) on stdout, the reason on stderr.
	r = jetup(t, nil, "detect", "--json", "--sysfs", root)
	if r.code != 2 || !strings.HasPrefix(r.stdout, "[\n  {") || !strings.Contains(r.stderr, "no board in USB recovery mode") {
		t.Errorf("%+v", r)
	}
	empty := t.TempDir()
	if r := jetup(t, nil, "detect", "--json", "--sysfs", empty); r.code != 2 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty bus: %+v", r)
	}
}

func TestDetectBadSysfsDirIsRefused(t *testing.T) {
	r := jetup(t, nil, "detect", "--sysfs", filepath.Join(t.TempDir(), "nope"))
	if r.code != 2 || !strings.Contains(r.stderr, "--sysfs") || !strings.Contains(r.stderr, "next: ") {
		t.Errorf("%+v", r)
	}
}

// --watch: one JSON line per appear and disappear, until SIGINT, then exit
// 0 with a run record.
func TestDetectWatchStreamsJSONLinesUntilInterrupted(t *testing.T) {
	_, devices := sysfsTree(t, usbHub)
	state := t.TempDir()
	cmd := exec.Command(binary, "--state-dir", state, "detect", "--watch", "--sysfs", devices)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(event, instance string) {
		t.Helper()
		select {
		case l := <-lines:
			var c map[string]any
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				t.Fatalf("not JSON: %q", l)
			}
			if c["event"] != event || c["usb_instance"] != instance || c["vendor_id"] != "0955" || c["at"] == nil {
				t.Fatalf("got %s, want %s of %s", l, event, instance)
			}
		case <-time.After(time.Minute):
			t.Fatalf("waited a minute for the %s line; stderr: %s", event, stderr.String())
		}
	}
	// Plugged before or after the watch's first scan, the board is an
	// appear either way.
	if _, err := fakesysfs.Add(devices, nanoInRecovery); err != nil {
		t.Fatal(err)
	}
	expect("appear", "1-8.4")
	if err := fakesysfs.Remove(devices, nanoInRecovery.Instance()); err != nil {
		t.Fatal(err)
	}
	expect("disappear", "1-8.4")

	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted watch: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for the watch to end on SIGINT")
	}
	st := onlyRun(t, state).Steps[0]
	if st.Outcome != runrec.Success || !strings.Contains(st.Summary, "1 appeared, 1 disappeared") {
		t.Errorf("run record %+v", st)
	}
}
