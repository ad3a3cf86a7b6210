package flash

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/step"
)

// The test binary doubles as the pty helper, as the jetup binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HelperArg {
		os.Exit(HelperMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func testHelper(t *testing.T) Helper {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Helper{Path: exe, Args: []string{HelperArg}}
}

// Scripts that behave like the jetpack-nixos flash script at its edges.
// Each leaves a grandchild behind that ignores SIGTERM and SIGHUP, and
// some double-fork a daemon out of their session: none may survive.
const scriptHead = `#!/bin/sh
[ -t 0 ] && [ -t 1 ] && echo "tty: yes"
(trap '' TERM HUP INT; exec sleep 300) &
`

var scripts = map[string]string{
	"success": scriptHead + `
echo "# L4T BSP Information:"
echo "./tegraflash.py --chip 0x23 --cmd \"dump eeprom cvm cvm.bin; reboot recovery\""
printf '\033[1m[   0.0123 ] Boot Rom communication\033[0m\r\n'
echo "[   3.5000 ] RCM-boot started"
echo "Jetson device should now be flashing and will reboot when complete."
printf 'Waiting up to 240s for Jetson device to appear via USB'; printf '.'; sleep 0.1; printf '.\n'
echo "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00"
echo "autosuspend now $(cat "$AUTOSUSPEND_FILE" 2>/dev/null)"
echo "Step 1/3... Erasing /dev/mtd0, this may take a while without any output..."
echo "Step 2/3... Writing bct.bin (size=4096) to BCT (offset=0)"
echo "Step 3/3... Skipping flash.idx entry:A_reserved (devnum=3, instnum=0) (offset=1024)"
echo "Finished flashing device"
echo "Flashing platform firmware successful. Rebooting now."
echo "Device reported flashing succeeded. Device should be rebooting."
`,
	"exit1": scriptHead + `
echo "# L4T BSP Information:"
echo "Error: probing the target board failed."
echo "       Make sure the target board is connected through"
echo "       USB port and is in recovery mode."
exit 1
`,
	"exit2": scriptHead + `
echo "# L4T BSP Information:"
echo "[   3.5000 ] RCM-boot started"
echo "Jetson device should now be flashing and will reboot when complete."
printf 'Waiting up to 240s for Jetson device to appear via USB....\n'
echo "Jetson device not detected, please monitor the serial port or wait 5-15 minutes"
exit 2
`,
	// The device fails and drops into its console; like expect's interact
	// this waits for the keyboard and ignores the Ctrl-C: only ending the
	// group stops it.
	"console": scriptHead + `
setsid sh -c 'trap "" TERM HUP INT; exec sleep 301' >/dev/null 2>&1 &
trap '' INT
echo "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00"
echo "boardspec: 3767-300-0005-L.3-1-1--"
echo "Step 1/13... Erasing /dev/mtd0, this may take a while without any output..."
echo "ERR: SPI boot device, but mtd0 device does not exist"
echo "Flashing platform firmware unsuccessful. Entering console"
sleep 0.1
echo "/bin/sh: can't access tty; job control turned off"
while :; do sleep 1; done
`,
	// Same, but Ctrl-C ends it as it ends expect's interact.
	"console-ctrlc": scriptHead + `
trap 'echo "Flashing may have failed"; exit 1' INT
echo "Could not find a matching boardspec in signed firmware directory for: 3767-300-0005-L.3-1-1"
echo "Flashing platform firmware unsuccessful. Entering console"
while :; do sleep 1; done
`,
	"hang": scriptHead + `
setsid sh -c 'trap "" TERM HUP; exec sleep 302' >/dev/null 2>&1 &
echo "# L4T BSP Information:"
echo "Jetson device should now be flashing and will reboot when complete."
echo "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00"
echo "Step 1/13... Erasing /dev/mtd0, this may take a while without any output..."
trap '' TERM
while :; do sleep 1; done
`,
}

type runResult struct {
	v      Verdict
	events []step.Event
	log    string
	mark   string
	took   time.Duration
}

// eventLog keeps the run's events and hands each to watch, if set.
type eventLog struct {
	mu    sync.Mutex
	ev    []step.Event
	watch func(step.Event)
}

func (l *eventLog) Emit(e step.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
	if l.watch != nil {
		l.watch(e)
	}
}

// runScript runs a script of scripts through the helper. watch, if set,
// sees each event as it comes. Its waits follow the real clock unless
// o.After says otherwise.
func runScript(t *testing.T, ctx context.Context, name string, o RunOptions, watch func(step.Event)) runResult {
	t.Helper()
	testkit.NeedCommands(t, "sh", "sleep", "setsid")
	dir := t.TempDir()
	path := filepath.Join(dir, "initrd-flash-"+name)
	if err := os.WriteFile(path, []byte(scripts[name]), 0o755); err != nil {
		t.Fatal(err)
	}
	mark := fmt.Sprintf("JETUP_TEST_MARK=%s-%d-%d", name, os.Getpid(), time.Now().UnixNano())
	o.Script, o.Helper = path, testHelper(t)
	o.Env = append(o.Env, mark)
	if o.ConsoleGrace == 0 {
		o.ConsoleGrace = 300 * time.Millisecond
	}
	var raw bytes.Buffer
	var mu sync.Mutex
	o.Log = writerFunc(func(p []byte) { mu.Lock(); raw.Write(p); mu.Unlock() })
	events := eventLog{watch: watch}
	start := time.Now()
	v, err := Run(ctx, o, &events)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	r := runResult{v: v, events: events.ev, log: raw.String(), mark: mark, took: took}
	assertNothingLeft(t, mark)
	return r
}

// testClock is a clock the test drives for the run's waits.
func testClock(t *testing.T) (*testkit.Clock, func(Wait, time.Duration) <-chan time.Time) {
	c := testkit.NewClock(t)
	return c, func(w Wait, d time.Duration) <-chan time.Time { return c.After(string(w), d) }
}

// atStage calls f once, at the first event of stage s.
func atStage(s Stage, f func()) func(step.Event) {
	var once sync.Once
	return func(e step.Event) {
		if st, ok := e.(StageEvent); ok && st.Stage == s {
			once.Do(f)
		}
	}
}

// atLine calls f once, when an output line containing text has come.
func atLine(text string, f func()) func(step.Event) {
	var once sync.Once
	return func(e step.Event) {
		if o, ok := e.(OutputEvent); ok && strings.Contains(o.Line, text) {
			once.Do(f)
		}
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// assertNothingLeft fails when any process still carries the run's mark
// in its environment: the script, its children, double-forked daemons.
// What the run ended may take a moment to exit: each is awaited through
// its pidfd, for a generous bound.
func assertNothingLeft(t *testing.T, mark string) {
	t.Helper()
	const bound = 30 * time.Second
	deadline := time.Now().Add(bound)
	for {
		left := testkit.Marked(mark)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) || len(testkit.WaitGone(left, time.Until(deadline))) > 0 {
			for _, p := range left {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			t.Fatalf("processes outlived the run by %v: %v", bound, left)
		}
	}
}

func stagesOf(events []step.Event) []Stage {
	var out []Stage
	for _, e := range events {
		if s, ok := e.(StageEvent); ok {
			out = append(out, s.Stage)
		}
	}
	return out
}

func TestRunSuccessUnderARealPty(t *testing.T) {
	as := filepath.Join(t.TempDir(), "autosuspend")
	if err := os.WriteFile(as, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runScript(t, context.Background(), "success", RunOptions{Autosuspend: as, Env: []string{"AUTOSUSPEND_FILE=" + as}}, nil)
	if r.v.Outcome != Success || r.v.Stage != StageSuccess || r.v.Ended != EndExited || *r.v.ExitCode != 0 {
		t.Fatalf("verdict %+v\n%s", r.v, r.log)
	}
	if !strings.Contains(r.log, "tty: yes") {
		t.Errorf("the script did not run on a terminal:\n%s", r.log)
	}
	if !strings.Contains(r.log, "autosuspend now -1") || !strings.Contains(r.log, "USB autosuspend off for the flash (was 2)") {
		t.Errorf("autosuspend was not off during the flash:\n%s", r.log)
	}
	if b, _ := os.ReadFile(as); string(b) != "2\n" {
		t.Errorf("autosuspend not restored: %q", b)
	}
	want := []Stage{StageStart, StageProbe, StageRCMBoot, StageWaitDevice, StageFlashing, StageSuccess}
	if got := stagesOf(r.events); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stages %v, want %v", got, want)
	}
	var steps []string
	for _, e := range r.events {
		if s, ok := e.(StepEvent); ok {
			steps = append(steps, fmt.Sprintf("%d/%d %s", s.Step, s.Steps, s.Action))
		}
	}
	if len(steps) != 3 || steps[1] != "2/3 Writing bct.bin (size=4096) to BCT (offset=0)" {
		t.Errorf("steps %q", steps)
	}
	// The raw log keeps the escape codes; the output events do not.
	if !strings.Contains(r.log, "\x1b[1m[   0.0123 ]") {
		t.Error("raw log lost the escape codes")
	}
	for _, e := range r.events {
		if o, ok := e.(OutputEvent); ok && strings.ContainsAny(o.Line, "\x1b\r") {
			t.Errorf("output event not cleaned: %q", o.Line)
		}
	}
	if _, ok := r.events[len(r.events)-1].(VerdictEvent); !ok {
		t.Errorf("last event %T, want the verdict", r.events[len(r.events)-1])
	}
}

func TestRunExitOneAndTwo(t *testing.T) {
	r := runScript(t, context.Background(), "exit1", RunOptions{}, nil)
	if r.v.Outcome != Failed || r.v.Cause != CauseNoRecoveryDevice || *r.v.ExitCode != 1 || r.v.Stage != StageProbe {
		t.Errorf("exit 1: %+v", r.v)
	}
	r = runScript(t, context.Background(), "exit2", RunOptions{}, nil)
	if r.v.Outcome != Failed || r.v.Cause != CauseGadgetNotDetected || *r.v.ExitCode != 2 || r.v.Stage != StageWaitDevice {
		t.Errorf("exit 2: %+v", r.v)
	}
}

func TestRunEndsAHangAtTheConsole(t *testing.T) {
	// The grace after "Entering console" ends once the device's next line
	// has come, so the test shows that line is read before the end; the
	// script ignores the Ctrl-C, so its wait ends at once.
	clk, after := testClock(t)
	clk.Fire(string(WaitAfterCtrlC))
	r := runScript(t, context.Background(), "console", RunOptions{After: after},
		atLine("job control turned off", func() { clk.Fire(string(WaitConsoleGrace)) }))
	if r.v.Outcome != Failed || r.v.Cause != CauseDeviceWriteFailed || r.v.Ended != EndConsole {
		t.Fatalf("verdict %+v\n%s", r.v, r.log)
	}
	if !strings.Contains(r.v.Hint, "QSPI") {
		t.Errorf("the specific hint for a missing mtd0 was lost: %q", r.v.Hint)
	}
	// What the device said after "Entering console" is read before the end.
	if !strings.Contains(r.log, "job control turned off") {
		t.Errorf("output after Entering console not kept:\n%s", r.log)
	}
	if r.took > 10*time.Second {
		t.Errorf("took %v to end a hung console", r.took)
	}
}

func TestRunConsoleCtrlCLetsTheScriptSayItFailed(t *testing.T) {
	// Nothing ends the wait after the Ctrl-C: the script must end itself.
	clk, after := testClock(t)
	clk.Fire(string(WaitConsoleGrace))
	r := runScript(t, context.Background(), "console-ctrlc", RunOptions{After: after}, nil)
	if r.v.Outcome != Failed || r.v.Cause != CauseBoardspecMismatch || r.v.Ended != EndConsole || *r.v.ExitCode != 1 {
		t.Fatalf("verdict %+v\n%s", r.v, r.log)
	}
	if !strings.Contains(r.log, "Flashing may have failed") {
		t.Errorf("the script's own failure line is missing:\n%s", r.log)
	}
}

func TestRunTimeout(t *testing.T) {
	// The timeout comes once the device is flashing (and hangs there).
	clk, after := testClock(t)
	r := runScript(t, context.Background(), "hang", RunOptions{Timeout: 1500 * time.Millisecond, After: after},
		atStage(StageFlashing, func() { clk.Fire(string(WaitTimeout)) }))
	if r.v.Outcome != Incomplete || r.v.Ended != EndTimeout || r.v.Cause != CauseDeviceTimeout || r.v.Stage != StageFlashing {
		t.Fatalf("verdict %+v\n%s", r.v, r.log)
	}
	if !strings.Contains(r.v.Hint, "after 1.5s") {
		t.Errorf("hint %q", r.v.Hint)
	}
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the device is flashing, as a person pressing Ctrl-C.
	r := runScript(t, ctx, "hang", RunOptions{}, atStage(StageFlashing, cancel))
	if r.v.Outcome != Incomplete || r.v.Ended != EndCancelled || r.v.Stage != StageFlashing {
		t.Fatalf("verdict %+v\n%s", r.v, r.log)
	}
	if r.took > 10*time.Second {
		t.Errorf("cancel took %v", r.took)
	}
}

// Through sudo -n, as a person who is not root runs it: the signal reaches
// the root helper through sudo and nothing is left.
func TestRunThroughSudo(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "sudo")
	r := runScript(t, context.Background(), "success", RunOptions{Sudo: true}, nil)
	if r.v.Outcome != Success || !strings.Contains(r.log, "tty: yes") {
		t.Fatalf("verdict %+v\n%s", r.v, r.log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r = runScript(t, ctx, "hang", RunOptions{Sudo: true}, atStage(StageFlashing, cancel))
	if r.v.Ended != EndCancelled {
		t.Fatalf("verdict %+v\n%s", r.v, r.log)
	}
}

func TestHelperRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{{}, {"--grace"}, {"--grace", "x", "--", "sh"}, {"--env", "novalue", "--", "sh"}, {"--frob", "1", "--", "sh"}} {
		if _, err := parseHelperArgs(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	o, err := parseHelperArgs([]string{"--autosuspend", "/x", "--env", "A=b", "--", "s", "--usb-instance", "1-3"})
	if err != nil || o.autosuspend != "/x" || o.env[0] != "A=b" || strings.Join(o.argv, " ") != "s --usb-instance 1-3" {
		t.Errorf("%+v %v", o, err)
	}
}

func TestCommandLine(t *testing.T) {
	o := RunOptions{Script: "/r/bin/initrd-flash-x", USBInstance: "1-8.4", Args: []string{"-v"}, Helper: Helper{Path: "/bin/jetup", Args: []string{HelperArg}},
		Sudo: true, Autosuspend: AutosuspendPath, Env: []string{"WORKDIR=/w"}}
	name, argv := o.command()
	got := name + " " + strings.Join(argv, " ")
	want := "sudo -n -- /bin/jetup __flash-helper --autosuspend /sys/module/usbcore/parameters/autosuspend --grace 2s --env WORKDIR=/w -- /r/bin/initrd-flash-x --usb-instance 1-8.4 -v"
	if got != want {
		t.Errorf("\ngot  %s\nwant %s", got, want)
	}
}
