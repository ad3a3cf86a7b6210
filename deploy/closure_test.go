package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
)

func TestParsePathInfoBothShapes(t *testing.T) {
	// Nix 2.8 (recorded): an array with "path".
	arr := `[{"path":"/nix/store/aaa-top","narHash":"sha256-x","narSize":1424,"references":["/nix/store/bbb-dep"],"deriver":"/nix/store/x.drv","registrationTime":1795241206,"ultimate":true},
	{"path":"/nix/store/bbb-dep","narHash":"sha256-y","narSize":120,"references":[],"closureSize":120}]`
	// Nix >= 2.19: an object keyed by path.
	obj := `{"/nix/store/aaa-top":{"narHash":"sha256-x","narSize":1424,"references":["/nix/store/bbb-dep"]},
	"/nix/store/bbb-dep":{"narSize":120,"references":[],"version":2}}`
	for name, in := range map[string]string{"array": arr, "object": obj} {
		c, err := ParsePathInfo("/nix/store/aaa-top", []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(c.Paths) != 2 || c.Bytes != 1544 || c.Size("/nix/store/bbb-dep") != 120 || !c.Has("/nix/store/aaa-top") {
			t.Errorf("%s: %+v", name, c)
		}
		if l := c.List(); l[0] != "/nix/store/aaa-top" || l[1] != "/nix/store/bbb-dep" {
			t.Errorf("%s: list %v", name, l)
		}
	}
}

func TestParsePathInfoRefusesInvalidPaths(t *testing.T) {
	for _, in := range []string{
		`[{"path":"/nix/store/aaa-top","valid":false}]`,
		`{"/nix/store/aaa-top":null}`,
		`[{"path":"/nix/store/other","narSize":1}]`,
		``,
		`error: path is not valid`,
	} {
		if _, err := ParsePathInfo("/nix/store/aaa-top", []byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
	_, err := ParsePathInfo("/nix/store/aaa-top", []byte(`{"/nix/store/aaa-top":null}`))
	if !strings.Contains(err.Error(), "not valid") {
		t.Errorf("message %q", err)
	}
}

func TestFlakeInstallable(t *testing.T) {
	cases := map[string]string{
		".#lab3":                       ".#nixosConfigurations.lab3.config.system.build.toplevel",
		"github:me/boards#orin":        "github:me/boards#nixosConfigurations.orin.config.system.build.toplevel",
		".#packages.aarch64-linux.sys": ".#packages.aarch64-linux.sys",
	}
	for in, want := range cases {
		if got, err := FlakeInstallable(in); err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
	}
	for _, bad := range []string{"lab3", "#lab3", ".#"} {
		if _, err := FlakeInstallable(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStoreQueryEscapesForNix(t *testing.T) {
	q := storeQuery("abc")
	if strings.Contains(q, "+") || !strings.HasPrefix(q, "remote-program=sh%20-c%20%27set%20-f%3B") ||
		!strings.Contains(q, "%2Ftmp%2Fjetup-abc%3B") || !strings.HasSuffix(q, "jetup-gate%20nix-daemon") {
		t.Errorf("query %q", q)
	}
}

// fakeSleep puts a sleep on PATH that the test drives: each call says
// "asleep" on one fifo and returns when the test wakes it through another,
// so the test knows where a shell loop is and decides when its pause ends.
type fakeSleep struct {
	env    []string
	asleep chan struct{}
	wake   *os.File
}

func newFakeSleep(t *testing.T) *fakeSleep {
	t.Helper()
	dir := t.TempDir()
	asleepPath, wakePath := filepath.Join(dir, "asleep"), filepath.Join(dir, "wake")
	for _, p := range []string{asleepPath, wakePath} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\necho asleep > " + asleepPath + "\nread -r _ < " + wakePath + "\n"
	if err := os.WriteFile(filepath.Join(dir, "sleep"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// Held open read-write by the test, neither fifo blocks the script's
	// open of it.
	asleep, err := os.OpenFile(asleepPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	wake, err := os.OpenFile(wakePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSleep{env: append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH")), asleep: make(chan struct{}, 100), wake: wake}
	go func() {
		r := bufio.NewReader(asleep)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			f.asleep <- struct{}{}
		}
	}()
	t.Cleanup(func() { asleep.Close(); wake.Close() })
	return f
}

// waitAsleep waits until the next call of sleep has begun.
func (f *fakeSleep) waitAsleep(t *testing.T, what string) {
	t.Helper()
	select {
	case <-f.asleep:
	case <-time.After(time.Minute):
		t.Fatalf("waited a minute for %s", what)
	}
}

// wakeOne ends one sleep.
func (f *fakeSleep) wakeOne(t *testing.T) {
	t.Helper()
	if _, err := f.wake.WriteString("\n"); err != nil {
		t.Fatal(err)
	}
}

// The gate, run by a real sh: it waits for the go file, then runs the
// daemon with the sudo and store the board shell wrote there. Its pauses
// are a sleep the test drives, so each step is taken at a known point.
func TestGateProgramWaitsThenRunsTheDaemon(t *testing.T) {
	testkit.NeedCommands(t, "sh")
	tok := fmt.Sprintf("test%d", time.Now().UnixNano())
	dir := "/tmp/jetup-" + tok
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	gate := func(sl *fakeSleep) *exec.Cmd {
		cmd := exec.Command("sh", "-c", strings.Replace(gateProgram(tok), "jetup-gate nix-daemon", "jetup-gate echo", 1)+" --stdio")
		cmd.Env = sl.env
		return cmd
	}
	sl := newFakeSleep(t)
	cmd := gate(sl)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	// It pauses instead of running the daemon: it waits at the gate.
	select {
	case <-sl.asleep:
	case err := <-ended:
		t.Fatalf("did not wait at the gate: %v %q", err, out.String())
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for the gate to pause")
	}
	if err := os.WriteFile(dir+"/go", []byte("SUDO=\"\"\nSTORE=\"local?root=/mnt\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sl.wakeOne(t)
	select {
	case err := <-ended:
		if err != nil {
			t.Fatal(err)
		}
	case <-sl.asleep:
		t.Fatal("the gate paused again with the go file there")
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for the gate to run the daemon")
	}
	if got := out.String(); got != "--stdio --store local?root=/mnt\n" {
		t.Errorf("daemon called with %q", got)
	}

	// Its board shell ends (the directory goes): it gives up at its next
	// look, without pausing again.
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sl = newFakeSleep(t)
	gone := gate(sl)
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	goneEnded := make(chan error, 1)
	go func() { goneEnded <- gone.Wait() }()
	sl.waitAsleep(t, "the gate to see the directory and pause")
	os.RemoveAll(dir)
	sl.wakeOne(t)
	select {
	case err := <-goneEnded:
		if err == nil {
			t.Error("without its board shell the gate must give up with an error")
		}
	case <-sl.asleep:
		_ = gone.Process.Kill()
		t.Error("without its board shell the gate paused again instead of giving up")
	case <-time.After(time.Minute):
		_ = gone.Process.Kill()
		t.Error("waited a minute for the gate to give up")
	}
}
