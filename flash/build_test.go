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
		t.Setenv("NIX_CONFIG", "build-users-group =\nsubstituters =\nsandbox = false")
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

func TestOutPath(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/store/abc-flash\n": "/nix/store/abc-flash",
		`[{"drvPath":"/nix/store/x.drv","outputs":{"out":"/nix/store/abc-flash"}}]`: "/nix/store/abc-flash",
		"":   "",
		"[]": "",
	} {
		if got := outPath(in); got != want {
			t.Errorf("outPath(%q) = %q", in, got)
		}
	}
}

// Progress from nix's internal-json log, as Nix 2.8 printed it for a build
// that also fetched a path from a cache.
func TestBuildProgress(t *testing.T) {
	var events collect
	p := newBuildProgress("x#y", &events)
	lines := []string{
		`@nix {"action":"start","id":2,"level":0,"text":"","type":104}`,
		`@nix {"action":"start","id":3,"level":0,"text":"","type":103}`,
		`@nix {"action":"result","fields":[0,3,0,0],"id":2,"type":105}`,
		`@nix {"action":"result","fields":[0,2,0,0],"id":3,"type":105}`,
		`@nix {"action":"start","fields":["/nix/store/aaa-glibc","https://cache.nixos.org","local"],"id":7,"level":3,"text":"copying path '/nix/store/aaa-glibc' from 'https://cache.nixos.org'","type":100}`,
		`@nix {"action":"start","fields":["https://cache.nixos.org/nar/x.nar.xz"],"id":8,"level":4,"text":"downloading","type":101}`,
		`@nix {"action":"result","fields":[1048576,4194304,0,0],"id":8,"type":105}`,
		`@nix {"action":"stop","id":7}`,
		`@nix {"action":"start","fields":["/nix/store/bbb-edk2.drv","",1,1],"id":9,"level":3,"text":"building '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-edk2-jetson.drv'","type":105}`,
		`@nix {"action":"result","fields":[1,3,1,0],"id":2,"type":105}`,
		`@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror:\u001b[0m something\n  more"}`,
	}
	for _, l := range lines {
		if !p.line([]byte(l)) {
			t.Fatalf("not taken: %s", l)
		}
	}
	if p.line([]byte("warning: plain text")) {
		t.Error("plain text taken as an event")
	}
	p.flush(false)
	e := events.ev[len(events.ev)-1].(BuildEvent)
	if e.Built != 1 || e.Total != 3 || e.Running != 1 || e.Downloaded != 1 || e.Downloads != 2 || e.Bytes != 1<<20 {
		t.Errorf("%+v", e)
	}
	if p.errors.String() != "error: something\n" {
		t.Errorf("errors %q", p.errors.String())
	}
	if got := shorten("building '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-edk2-jetson.drv'"); got != "building edk2-jetson" {
		t.Errorf("shorten %q", got)
	}
	if !strings.Contains(e.Text(), "1/3 built, 1/2 fetched, 1.0 MiB downloaded") {
		t.Errorf("text %q", e.Text())
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
