package sim

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/step"
)

// The test binary doubles as the flash helper, as jetup does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == flash.HelperArg {
		os.Exit(flash.HelperMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// text is what the run prints, without its pacing.
func (r flashRun) text() string {
	var b strings.Builder
	for _, l := range r.lines {
		b.WriteString(l.Text)
		if !l.NoEOL {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Every composed run is judged as it is meant, by the one classifier.
func TestComposedRunsClassify(t *testing.T) {
	causes := map[string]bool{}
	for _, c := range flash.Causes {
		causes[string(c)] = true
	}
	for name, run := range defaultRuns() {
		if name != "success" && !causes[name] {
			t.Errorf("run %q is neither success nor a cause id", name)
		}
		c := flash.NewClassifier()
		_, _ = c.Write([]byte(run.text()))
		v := c.Verdict()
		if run.end == "exit" {
			v = c.Finish(flash.Exit{End: flash.EndExited, Code: run.code})
		}
		switch {
		case name == "success":
			if v.Outcome != flash.Success {
				t.Errorf("success run: %+v", v)
			}
		case run.end == "loop":
			// The loop only shows once it runs: checked live below.
		case v.Outcome != flash.Failed || string(v.Cause) != name:
			t.Errorf("%s run: %s/%s", name, v.Outcome, v.Cause)
		}
	}
	for c := range causes {
		if _, ok := defaultRuns()[c]; !ok {
			t.Errorf("no simulated run for %s", c)
		}
	}
}

// Each run, played by the real replay script through the real helper and
// pty, ends as the real script would and leaves no process behind.
func TestReplayScriptsThroughTheRunner(t *testing.T) {
	testkit.NeedCommands(t, "sh", "sleep")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := defaultProfile()
	for _, name := range FlashOutcomes() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run := defaultRuns()[name]
			e := &FlashEdge{Outcome: name, Speed: 0.01}
			script, err := e.Script(context.Background(), p)
			if err != nil || !strings.HasSuffix(script, "/initrd-flash-orin-nano-devkit") {
				t.Fatalf("%q %v", script, err)
			}
			mark := "JETUP_SIM_TEST=" + name + "-" + strconv.Itoa(os.Getpid())
			var log bytes.Buffer
			// The test's clock: the console's grace ends at once; the
			// timeout and the wait after the Ctrl-C never end, so each run
			// ends as its script (or the stuck-loop rule) ends it.
			clk := testkit.NewClock(t)
			clk.Fire(string(flash.WaitConsoleGrace))
			after := func(w flash.Wait, d time.Duration) <-chan time.Time { return clk.After(string(w), d) }
			v, err := flash.Run(context.Background(), flash.RunOptions{Script: script, Helper: flash.Helper{Path: exe, Args: []string{flash.HelperArg}},
				Env: []string{mark}, Timeout: time.Minute, After: after, Log: &log}, step.Discard)
			if err != nil {
				t.Fatal(err)
			}
			want := flash.Failed
			if name == "success" {
				want = flash.Success
			}
			if v.Outcome != want || (name != "success" && string(v.Cause) != name) {
				t.Errorf("%s/%s\n%s", v.Outcome, v.Cause, log.String())
			}
			switch run.end {
			case "console":
				if v.Ended != flash.EndConsole || !strings.Contains(log.String(), "Flashing may have failed") {
					t.Errorf("console hang not ended by Ctrl-C: %s\n%s", v.Ended, log.String())
				}
			case "loop":
				if v.Ended != flash.EndStuck {
					t.Errorf("applet loop ended by %s", v.Ended)
				}
			default:
				if v.Ended != flash.EndExited || *v.ExitCode != run.code {
					t.Errorf("ended %s with %d, want exit %d", v.Ended, *v.ExitCode, run.code)
				}
			}
			noneLeft(t, mark)
		})
	}
}

// noneLeft fails when a process of the run outlives it: what the run
// ended is given a generous bound to exit (awaited through pidfds).
func noneLeft(t *testing.T, mark string) {
	t.Helper()
	left := testkit.Marked(mark)
	for _, pid := range testkit.WaitGone(left, 30*time.Second) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("process %d outlived the run by 30 s", pid)
	}
}

func TestSimBoardAndOutcomeChoice(t *testing.T) {
	find := func() []flash.Board {
		b, err := flash.USBFinder(FlashUSB("0955:7523"), detect.Options{}).FindBoards(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := find(); len(b) != 1 || b[0].USBInstance != "1-2" || b[0].ID != "0955:7523" {
		t.Errorf("boards %+v", b)
	}
	t.Setenv("JETUP_SIM_FLASH", "no-recovery-device")
	t.Setenv("JETUP_SIM_FLASH_SPEED", "0.5")
	if b := find(); len(b) != 0 || NewFlashEdge().Speed != 0.5 {
		t.Errorf("boards %+v", b)
	}
	if _, err := (&FlashEdge{Outcome: "bogus"}).Script(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "device-write-failed") {
		t.Errorf("unknown outcome: %v", err)
	}
	// A realistic run takes about half a minute at speed 1.
	var total time.Duration
	for _, l := range defaultRuns()["success"].lines {
		total += l.Delay
	}
	if total < 20*time.Second || total > 90*time.Second {
		t.Errorf("success run paced at %v", total)
	}
}
