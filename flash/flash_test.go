package flash

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// recorder runs commands on this machine and remembers which.
type recorder struct {
	mu    sync.Mutex
	names []string
}

func (r *recorder) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	r.mu.Lock()
	r.names = append(r.names, name)
	r.mu.Unlock()
	return proc.Host{}.Command(ctx, name, args...)
}

func (r *recorder) LookPath(name string) (string, error) { return exec.LookPath(name) }

func (r *recorder) ran(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.names {
		if n == name {
			return true
		}
	}
	return false
}

// testEdge is a board on this machine: no root needed, the autosuspend
// file is a temp file, the script is built unless one is given.
type testEdge struct{ script string }

func (e testEdge) Script(context.Context, *profiles.Profile) (string, error) { return e.script, nil }
func (testEdge) NeedsRoot() bool                                             { return false }
func (testEdge) Autosuspend() string                                         { return "" }

// echoArgs is a flash script that shows its arguments and succeeds.
const echoArgs = "#!/bin/sh\necho \"args: $*\"\necho 'Flashing platform firmware successful. Rebooting now.'\necho 'Device reported flashing succeeded. Device should be rebooting.'\n"

func writeScript(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "initrd-flash-test")
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func boards(b ...Board) BoardFinder {
	return FinderFunc(func(context.Context) ([]Board, error) { return b, nil })
}

func testProfile() *profiles.Profile {
	return &profiles.Profile{Name: "demo", Flash: &profiles.Flash{Flake: "path:/nonexistent", Attribute: "flash-demo-super-devkit"}}
}

func exitOf(err error) int { return step.ExitCodeOf(err) }

func TestNoBoardRefusesBeforeBuilding(t *testing.T) {
	r := &recorder{}
	var ev collect
	_, err := Flash(context.Background(), Options{Profile: testProfile(), Finder: boards(), Runner: r, Edge: testEdge{}, Helper: testHelper(t)}, &ev)
	var se *step.Error
	if exitOf(err) != 2 || !errors.As(err, &se) || se.Cause != string(CauseNoRecoveryDevice) || !strings.Contains(se.Next, "recovery mode") {
		t.Fatalf("%v", err)
	}
	if r.ran("nix") || r.ran(testHelper(t).Path) {
		t.Errorf("ran %v before finding a board", r.names)
	}
	// Two boards and no --usb-instance: the gadgets would collide.
	_, err = Flash(context.Background(), Options{Profile: testProfile(), Finder: boards(Board{USBInstance: "1-1"}, Board{USBInstance: "1-2"}), Runner: r, Edge: testEdge{}}, step.Discard)
	if exitOf(err) != 2 || !strings.Contains(err.Error(), "2 boards") {
		t.Errorf("two boards: %v", err)
	}
}

func TestScriptRunsWithoutABoardAndWarns(t *testing.T) {
	var ev collect
	var log bytes.Buffer
	res, err := Flash(context.Background(), Options{Script: writeScript(t, echoArgs), Finder: boards(), Edge: testEdge{}, Helper: testHelper(t), Log: &log}, &ev)
	if err != nil || res.Outcome != Success {
		t.Fatalf("%v %+v\n%s", err, res, log.String())
	}
	warned := false
	for _, e := range ev.ev {
		if n, ok := e.(NoticeEvent); ok && n.Event == "warning" && strings.Contains(n.Message, "running the script anyway") {
			warned = true
		}
	}
	if !warned {
		t.Error("no warning that jetup sees no board")
	}
	if strings.Contains(log.String(), "--usb-instance") {
		t.Errorf("an instance was passed with no board known:\n%s", log.String())
	}
}

func TestDetectedBoardGivesTheUSBInstance(t *testing.T) {
	var log bytes.Buffer
	res, err := Flash(context.Background(), Options{Script: writeScript(t, echoArgs), Finder: boards(Board{USBInstance: "1-8.4", Module: "Orin Nano 8GB"}),
		Edge: testEdge{}, Helper: testHelper(t), Log: &log}, step.Discard)
	if err != nil || res.USBInstance != "1-8.4" || res.Board == nil {
		t.Fatalf("%v %+v", err, res)
	}
	if !strings.Contains(log.String(), "args: --usb-instance 1-8.4") {
		t.Errorf("log:\n%s", log.String())
	}
	// --usb-instance picks one of several boards.
	log.Reset()
	_, err = Flash(context.Background(), Options{Script: writeScript(t, echoArgs), USBInstance: "1-2", Finder: boards(Board{USBInstance: "1-1"}, Board{USBInstance: "1-2"}),
		Edge: testEdge{}, Helper: testHelper(t), Log: &log}, step.Discard)
	if err != nil || !strings.Contains(log.String(), "args: --usb-instance 1-2") {
		t.Errorf("%v\n%s", err, log.String())
	}
}

func TestBuildsTheProfilesScriptAndRunsIt(t *testing.T) {
	flake := testFlake(t, echoArgs, false)
	p := testProfile()
	var ev collect
	res, err := Flash(context.Background(), Options{Profile: p, Flake: flake, Finder: boards(Board{USBInstance: "3-1"}), Edge: testEdge{}, Helper: testHelper(t),
		OutLink: filepath.Join(t.TempDir(), "flash-demo")}, &ev)
	if err != nil || res.Outcome != Success || !res.Built || filepath.Base(res.Script) != "initrd-flash-demo-devkit" {
		t.Fatalf("%v %+v", err, res)
	}
	var sawBuild bool
	for _, e := range ev.ev {
		if _, ok := e.(BuildEvent); ok {
			sawBuild = true
		}
	}
	if !sawBuild {
		t.Error("no build progress")
	}
}

func TestEdgeScriptIsUsedWithoutBuilding(t *testing.T) {
	r := &recorder{}
	res, err := Flash(context.Background(), Options{Profile: testProfile(), Finder: boards(Board{USBInstance: "1-1"}), Edge: testEdge{script: writeScript(t, echoArgs)},
		Runner: r, Helper: testHelper(t)}, step.Discard)
	if err != nil || res.Outcome != Success || res.Built || r.ran("nix") {
		t.Errorf("%v %+v %v", err, res, r.names)
	}
}

// The script's exit 2 ("Jetson device not detected") is jetup's exit 2, as
// for no board in recovery mode (issue 14).
func TestFailedScriptGivesCauseAndExitCode(t *testing.T) {
	script := writeScript(t, "#!/bin/sh\necho 'Jetson device should now be flashing'\necho 'Jetson device not detected, please monitor the serial port or wait 5-15 minutes'\nexit 2\n")
	res, err := Flash(context.Background(), Options{Script: script, Edge: testEdge{}, Helper: testHelper(t)}, step.Discard)
	var se *step.Error
	if !errors.As(err, &se) || se.Code != 2 || se.Cause != string(CauseGadgetNotDetected) || se.Next != res.Hint || res.Cause != CauseGadgetNotDetected {
		t.Errorf("%v %+v", err, res)
	}
}

func TestFlakeRef(t *testing.T) {
	p := testProfile()
	for _, c := range []struct {
		flake, want string
	}{
		{"", "path:/nonexistent#flash-demo-super-devkit"},
		{"github:me/fork", "github:me/fork#flash-demo-super-devkit"},
		{".#flash-custom", ".#flash-custom"},
	} {
		if got, err := flakeRef(Options{Profile: p, Flake: c.flake}); err != nil || got != c.want {
			t.Errorf("%q: %q %v", c.flake, got, err)
		}
	}
	if _, err := flakeRef(Options{Profile: &profiles.Profile{Name: "rpi4"}}); exitOf(err) != 2 || !strings.Contains(err.Error(), "rpi4") {
		t.Errorf("a Pi: %v", err)
	}
}
