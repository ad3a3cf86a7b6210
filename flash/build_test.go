package flash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/step"
)

// testFlake writes a flake whose flash attribute builds a bin/ with the
// flash script (named unlike the attribute, as jetpack-nixos does) and a
// helper next to it. The salt makes every test build something new.
func testFlake(t *testing.T, script string, fail bool) string {
	t.Helper()
	testkit.NeedCommands(t, "nix")
	if os.Geteuid() == 0 {
		// Single-user root store on a build machine: no nixbld group, no
		// network for the cache.
		t.Setenv("NIX_CONFIG", testkit.NixConfig)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flash.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	build := `/bin/mkdir -p $out/bin; /bin/cp ${./flash.sh} $out/bin/initrd-flash-demo-devkit; /bin/chmod +x $out/bin/initrd-flash-demo-devkit; echo built`
	if fail {
		build = `echo "this build fails on purpose"; exit 3`
	}
	salt := fmt.Sprintf("%d", time.Now().UnixNano())
	flake := fmt.Sprintf(`{
  outputs = { self }: {
    packages.x86_64-linux.flash-demo-super-devkit = derivation {
      name = "flash-demo-%s";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" %q ];
    };
  };
}
`, salt, build)
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	return "path:" + dir
}

type collect struct {
	mu sync.Mutex
	ev []step.Event
}

func (c *collect) Emit(e step.Event) { c.mu.Lock(); c.ev = append(c.ev, e); c.mu.Unlock() }

func TestBuildWithNix(t *testing.T) {
	ref := testFlake(t, "#!/bin/sh\necho hi\n", false) + "#flash-demo-super-devkit"
	link := filepath.Join(t.TempDir(), "gcroot")
	var events collect
	var log strings.Builder
	out, err := Build(context.Background(), BuildOptions{Ref: ref, OutLink: link, Log: &log}, &events)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.HasPrefix(out, "/nix/store/") {
		t.Fatalf("out %q", out)
	}
	if target, err := os.Readlink(link); err != nil || target != out {
		t.Errorf("GC root %s -> %s (%v), want %s", link, target, err, out)
	}
	script, err := ResolveScript(out)
	if err != nil || filepath.Base(script) != "initrd-flash-demo-devkit" {
		t.Errorf("script %q %v", script, err)
	}
	last, ok := events.ev[len(events.ev)-1].(BuildEvent)
	if !ok || !last.Done || last.Built != 1 || last.Total != 1 {
		t.Errorf("last build event %+v", events.ev[len(events.ev)-1])
	}
	if !strings.Contains(log.String(), `"action":"start"`) {
		t.Errorf("the raw internal-json log was not kept:\n%s", log.String())
	}
}

func TestBuildFailureSaysWhat(t *testing.T) {
	ref := testFlake(t, "", true) + "#flash-demo-super-devkit"
	_, err := Build(context.Background(), BuildOptions{Ref: ref}, step.Discard)
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != "build-failed" || se.Next == "" || !strings.Contains(se.What, "flash-demo") {
		t.Fatalf("%#v", err)
	}
	_, err = Build(context.Background(), BuildOptions{Ref: strings.TrimSuffix(ref, "super-devkit") + "nope"}, step.Discard)
	if !errors.As(err, &se) || !strings.Contains(se.What, "flash-demo-nope") {
		t.Fatalf("missing attribute: %v", err)
	}
}

// The build line people read; the numbers come from the Nix runner's
// tracker (nixrun's tests feed it real Nix 2.8 logs).
func TestBuildEventText(t *testing.T) {
	e := BuildEvent{Ref: "x#y", Progress: nixrun.Progress{Built: 1, Total: 3, Running: 1, Downloaded: 1, Downloads: 2,
		Bytes: 1 << 20, Activity: "building edk2-jetson"}}
	if got := e.Text(); got != "build x#y: 1/3 built, 1/2 fetched, 1.0 MiB downloaded · building edk2-jetson" {
		t.Errorf("text %q", got)
	}
	e.Done = true
	if got := e.Text(); got != "build x#y: 1/3 built, 1/2 fetched, 1.0 MiB downloaded (done)" {
		t.Errorf("done %q", got)
	}
	if got := (BuildEvent{Ref: "x#y"}).Text(); got != "build x#y" {
		t.Errorf("empty %q", got)
	}
}

func TestResolveScript(t *testing.T) {
	dir := t.TempDir()
	write := func(p string, mode os.FileMode) string {
		p = filepath.Join(dir, p)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := write("one/bin/initrd-flash-orin-nano-devkit", 0o755)
	write("one/bin/README", 0o644)
	link := filepath.Join(dir, "result")
	_ = os.Symlink(filepath.Join(dir, "one"), link)
	for _, in := range []string{one, filepath.Join(dir, "one"), link, filepath.Join(dir, "one", "bin")} {
		if got, err := ResolveScript(in); err != nil || got != one {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	// A helper next to the flash script is passed over.
	two := write("two/bin/initrd-flash-x", 0o755)
	write("two/bin/tegra-helper", 0o755)
	if got, err := ResolveScript(filepath.Join(dir, "two")); err != nil || got != two {
		t.Errorf("two: %q %v", got, err)
	}
	write("three/bin/initrd-flash-a", 0o755)
	write("three/bin/flash-b", 0o755)
	notExec := write("plain.sh", 0o644)
	_ = os.MkdirAll(filepath.Join(dir, "empty", "bin"), 0o755)
	for in, want := range map[string]string{
		filepath.Join(dir, "three"):   "several scripts (flash-b, initrd-flash-a)",
		notExec:                       "is not executable",
		filepath.Join(dir, "empty"):   "no executable",
		filepath.Join(dir, "missing"): "no such file",
	} {
		_, err := ResolveScript(in)
		var se *step.Error
		if !errors.As(err, &se) || se.Code != step.ExitRefused || !strings.Contains(se.What, want) || se.Next == "" {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

// Issue 21 finding 3: one stderr line longer than any line buffer must not
// stop the reading of nix's log (nix would block on a full pipe and the
// build never end). 8 MiB is beyond the 4 MiB a bufio.Scanner took here.
func TestBuildSurvivesAHugeLogLine(t *testing.T) {
	out := t.TempDir()
	for _, old := range []bool{false, true} {
		testkit.FakeNix{Out: out, LongLine: 8 << 20, Old: old}.Install(t)
		var events collect
		var log strings.Builder
		done := make(chan error, 1)
		var path string
		go func() {
			var err error
			path, err = Build(context.Background(), BuildOptions{Ref: "path:/x#flash", Log: &log}, &events)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil || path != out {
				t.Fatalf("old nix %v: %q %v", old, path, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("old nix %v: Build did not return within 60 s after nix printed an 8 MiB line", old)
		}
		last := events.ev[len(events.ev)-1].(BuildEvent)
		if !last.Done || last.Built != 1 || last.Total != 1 {
			t.Errorf("old nix %v: progress after the long line was lost: %+v", old, last)
		}
		if log.Len() > 2<<20 {
			t.Errorf("old nix %v: the log kept %d bytes of one line", old, log.Len())
		}
	}
}
