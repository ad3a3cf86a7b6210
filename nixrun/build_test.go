package nixrun

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
)

// realFlake writes a flake with a two-derivation build (dep, then top) and
// one that fails; builder = "/bin/sh" runs unsandboxed with no PATH. The
// nonce makes each run build afresh.
func realFlake(t *testing.T) string {
	t.Helper()
	testkit.NeedCommands(t, "nix")
	// Single-user root store on the build machines: no nixbld group, no
	// sandbox, no network for the cache.
	t.Setenv("NIX_CONFIG", testkit.NixConfig)
	dir := t.TempDir()
	nonce := fmt.Sprint(time.Now().UnixNano())
	flake := `{
  outputs = { self }: let
    dep = derivation { name = "nixrun-dep"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "` + nonce + `";
      args = [ "-c" "echo dep-building; /bin/mkdir -p $out; echo x > $out/x" ]; };
  in {
    packages.x86_64-linux.top = derivation { name = "nixrun-top"; system = "x86_64-linux"; builder = "/bin/sh"; inherit dep;
      args = [ "-c" "echo top-building; /bin/mkdir -p $out/bin; /bin/cp $dep/x $out/bin/x" ]; };
    packages.x86_64-linux.bad = derivation { name = "nixrun-bad"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "` + nonce + `";
      args = [ "-c" "echo this build fails on purpose; exit 3" ]; };
  };
}
`
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	return "path:" + dir
}

type progressLog struct {
	mu sync.Mutex
	p  []Progress
}

func (l *progressLog) add(p Progress) { l.mu.Lock(); l.p = append(l.p, p); l.mu.Unlock() }
func (l *progressLog) last() Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.p) == 0 {
		return Progress{}
	}
	return l.p[len(l.p)-1]
}

// The real nix builds: the output path, the GC root, progress and the raw
// log; a failing builder and a missing attribute are Errors whose Reason
// is nix's own message.
func TestBuildWithRealNix(t *testing.T) {
	flake := realFlake(t)
	link := filepath.Join(t.TempDir(), "result")
	var prog progressLog
	var raw strings.Builder
	var n *Nix // nil: nix from PATH
	out, err := n.Build(context.Background(), Build{Installable: flake + "#top", OutLink: link,
		Log: Watch{Raw: &raw, Progress: prog.add}})
	if err != nil {
		t.Fatalf("%v\n%s", err, raw.String())
	}
	if !strings.HasPrefix(out, "/nix/store/") || !strings.HasSuffix(out, "-nixrun-top") {
		t.Errorf("out %q", out)
	}
	if target, err := os.Readlink(link); err != nil || target != out {
		t.Errorf("GC root %s -> %q (%v), want %s", link, target, err, out)
	}
	if p := prog.last(); p != (Progress{Built: 2, Total: 2, Done: true}) {
		t.Errorf("final progress %+v", p)
	}
	if !strings.Contains(raw.String(), `"fields":["top-building"]`) {
		t.Errorf("the raw log lacks the builder's output:\n%s", raw.String())
	}

	_, err = n.Build(context.Background(), Build{Installable: flake + "#bad"})
	var e *Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.Reason(), "builder for '/nix/store/") ||
		!strings.HasSuffix(e.Reason(), "-nixrun-bad.drv' failed with exit code 3") {
		t.Errorf("failed build: %v", err)
	}
	_, err = n.Build(context.Background(), Build{Installable: flake + "#nope"})
	if !errors.As(err, &e) || !strings.Contains(e.Reason(), "does not provide attribute 'packages.x86_64-linux.nope'") {
		t.Errorf("missing attribute: %v", err)
	}
}

// Issue 21, finding 3: nix prints a 2 MiB line on stderr, then its log
// and result. The build ends with its result (and, when the builder
// fails, with its error): the reader cut the line and went on draining.
func TestBuildSurvivesA2MiBLine(t *testing.T) {
	out := t.TempDir()
	for _, fail := range []bool{false, true} {
		testkit.FakeNix{Out: out, LongLine: 2 << 20, Fail: fail}.Install(t)
		var raw strings.Builder
		var prog progressLog
		type result struct {
			path string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			p, err := (&Nix{}).Build(context.Background(), Build{Installable: "path:/x#y",
				Log: Watch{Raw: &raw, Progress: prog.add}})
			done <- result{p, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("fail=%v: Build did not return within 60 s of nix printing a 2 MiB line", fail)
		}
		if !fail && (r.err != nil || r.path != out || prog.last() != (Progress{Built: 1, Total: 1, Done: true})) {
			t.Errorf("good build: %q %v %+v", r.path, r.err, prog.last())
		}
		var e *Error
		if fail && (!errors.As(r.err, &e) || e.Reason() != "builder for '/nix/store/7jinq9hix3b7170bpv46qgdhp2v853gr-fake.drv' failed with exit code 3") {
			t.Errorf("failed build: %v", r.err)
		}
		first, _, _ := strings.Cut(raw.String(), "\n")
		if len(first) > 1<<20+100 || !strings.HasSuffix(first, " …[line cut at 1048576 bytes]") {
			t.Errorf("fail=%v: the long line in the log: %d bytes, ends %q", fail, len(first), first[max(0, len(first)-40):])
		}
	}
}

// Nix < 2.9 has no --print-out-paths: the build runs again with --json,
// and later builds with the same nix go straight to --json.
func TestBuildFallsBackToJSONOnOldNix(t *testing.T) {
	out := t.TempDir()
	calls := testkit.FakeNix{Out: out, Old: true}.Install(t)
	var raw strings.Builder
	for i := 0; i < 2; i++ {
		p, err := (&Nix{}).Build(context.Background(), Build{Installable: "path:/x#y", OutLink: "/tmp/link-x", Log: Watch{Raw: &raw}})
		if err != nil || p != out {
			t.Fatalf("build %d: %q %v\n%s", i, p, err, raw.String())
		}
	}
	b, _ := os.ReadFile(calls)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		"--extra-experimental-features nix-command flakes build path:/x#y --log-format internal-json --print-out-paths --out-link /tmp/link-x",
		"--extra-experimental-features nix-command flakes build path:/x#y --log-format internal-json --json --out-link /tmp/link-x",
		"--extra-experimental-features nix-command flakes build path:/x#y --log-format internal-json --json --out-link /tmp/link-x",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(raw.String(), "error: unrecognised flag '--print-out-paths'") {
		t.Errorf("the refusal is not in the log:\n%s", raw.String())
	}
	// A newer nix (its own path) is asked for --print-out-paths again.
	calls = testkit.FakeNix{Out: out}.Install(t)
	if p, err := (&Nix{}).Build(context.Background(), Build{Installable: "path:/x#y"}); err != nil || p != out {
		t.Fatalf("new nix: %q %v", p, err)
	}
	if b, _ := os.ReadFile(calls); !strings.Contains(string(b), "--print-out-paths --no-link") || strings.Count(string(b), "\n") != 1 {
		t.Errorf("new nix calls: %s", b)
	}
}

// The modes every call gets: --offline with no substituters, the extra
// environment; and PreBuild refusing before nix is started at all.
func TestModesReachEveryCall(t *testing.T) {
	out := t.TempDir()
	calls := testkit.FakeNix{Out: out}.Install(t)
	n := &Nix{Offline: true}
	if _, err := n.Build(context.Background(), Build{Installable: "path:/x#y", Args: []string{"-v"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Run(context.Background(), Call{Args: []string{"path-info", "-r", "--json", out}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(calls)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, "--extra-experimental-features nix-command flakes --offline --option substituters  ") {
			t.Errorf("call without the offline flags: %s", l)
		}
	}
	refused := errors.New("this host cannot build aarch64-linux")
	var asked Build
	n.PreBuild = func(_ context.Context, b Build) error { asked = b; return refused }
	if _, err := n.Build(context.Background(), Build{Installable: "path:/x#arm"}); !errors.Is(err, refused) || asked.Installable != "path:/x#arm" {
		t.Errorf("PreBuild: %v (asked %+v)", err, asked)
	}
	if b2, _ := os.ReadFile(calls); string(b2) != string(b) {
		t.Errorf("nix ran although PreBuild refused: %s", b2[len(b):])
	}
}

// Run as another user (SUDO_UID/SUDO_GID under sudo): the child has that
// uid, gid and HOME.
func TestUserRunsNixAsThatUser(t *testing.T) {
	testkit.NeedRoot(t)
	// t.TempDir's parent is 0700: nobody could not reach the script.
	dir, err := os.MkdirTemp("", "nixrun-user-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	script := "#!/bin/sh\necho \"$(id -u):$(id -g):$HOME:$EXTRA\"\n"
	if err := os.WriteFile(filepath.Join(dir, "nix"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	n := &Nix{User: &User{UID: 65534, GID: 65534, Home: "/nonexistent"}, Env: []string{"EXTRA=yes"}}
	out, err := n.Run(context.Background(), Call{Args: []string{"eval"}})
	if err != nil || strings.TrimSpace(string(out)) != "65534:65534:/nonexistent:yes" {
		t.Errorf("%q %v", out, err)
	}
}

// A command that prints more than MaxStdout is an error, not a cut
// answer; nix is drained and ends.
func TestRunRefusesOversizedStdout(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\nhead -c 3000000 /dev/zero\n"
	if err := os.WriteFile(filepath.Join(dir, "nix"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	_, err := (&Nix{}).Run(context.Background(), Call{Args: []string{"path-info"}, MaxStdout: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "more than 1048576 bytes on stdout") {
		t.Errorf("%v", err)
	}
}

// Cancelling ends the build at once, nix's whole process group with it.
func TestCancelEndsTheBuild(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho '@nix {\"action\":\"start\",\"id\":1,\"level\":0,\"text\":\"\",\"type\":104}' >&2\nexec sleep 1000\n"
	if err := os.WriteFile(filepath.Join(dir, "nix"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := (&Nix{}).Build(ctx, Build{Installable: "x", Log: Watch{Line: func(Line) { once.Do(func() { close(started) }) }}})
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("nix's first line never arrived (waited 60 s)")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Build did not return within 60 s of its cancellation")
	}
}

func TestNoNix(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := (&Nix{}).Build(context.Background(), Build{Installable: "x"}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("%v", err)
	}
	if _, err := (&Nix{}).Run(context.Background(), Call{Args: []string{"path-info"}}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("%v", err)
	}
}

func TestOutPath(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/store/abc-flash\n": "/nix/store/abc-flash",
		`[{"drvPath":"/nix/store/pq093vrjgmmmdkyfwa28qkahfy12fq2h-cap-ok.drv","outputs":{"out":"/nix/store/crc2n35bbvlbn58fpd79l5zx6ax93zga-cap-ok"}}]`: "/nix/store/crc2n35bbvlbn58fpd79l5zx6ax93zga-cap-ok",
		`[{"drvPath":"/x.drv","outputs":{"bin":"/nix/store/b-bin"}}]`:                                                                                   "/nix/store/b-bin",
		`[{"path":"/nix/store/ydb301g1n19jbb34xika722sf8naicgj-nixrun-top"}]`:                                                                           "/nix/store/ydb301g1n19jbb34xika722sf8naicgj-nixrun-top",
		`[{"drvPath":"/x.drv","outputs":{"bin":"/nix/store/b","dev":"/nix/store/d"}}]`:                                                                  "",
		"":   "",
		"[]": "",
		"[":  "",
	} {
		if got := OutPath(in); got != want {
			t.Errorf("OutPath(%q) = %q", in, got)
		}
	}
}

// Prebuilt (offline, the field kit) stands for a build with a store path:
// the real nix makes the out-link to that path and evaluates nothing (the
// installable names a flake that does not exist); its error refuses the
// build before nix starts. Observe hears of every call with its time.
func TestPrebuiltStandsForTheBuild(t *testing.T) {
	flake := realFlake(t)
	var stats []Stat
	n := &Nix{Observe: func(s Stat) { stats = append(stats, s) }}
	want, err := n.Build(context.Background(), Build{Installable: flake + "#top"})
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	n.Prebuilt = func(_ context.Context, b Build) (string, error) {
		asked = append(asked, b.Installable)
		if strings.HasSuffix(b.Installable, "#refused") {
			return "", errors.New("not in a kit")
		}
		return want, nil
	}
	link := filepath.Join(t.TempDir(), "flash")
	got, err := n.Build(context.Background(), Build{Installable: "path:/nonexistent/flake#top", OutLink: link})
	if err != nil || got != want {
		t.Fatalf("prebuilt: %q %v, want %s", got, err, want)
	}
	if target, _ := os.Readlink(link); target != want {
		t.Errorf("out-link -> %q, want %s", target, want)
	}
	calls := len(stats)
	if _, err := n.Build(context.Background(), Build{Installable: "path:/x#refused"}); err == nil || err.Error() != "not in a kit" {
		t.Errorf("refused: %v", err)
	}
	if len(stats) != calls {
		t.Errorf("nix ran although the kit refused: %+v", stats[calls:])
	}
	if strings.Join(asked, " ") != "path:/nonexistent/flake#top path:/x#refused" {
		t.Errorf("asked %v", asked)
	}
	// One call: the store path built as itself, asking no cache.
	local := "--extra-experimental-features nix-command flakes --offline --option substituters  build " + want + " --log-format internal-json --out-link " + link
	if len(stats) != 2 || strings.Join(stats[1].Args, " ") != local || stats[1].Took <= 0 || stats[1].Err != nil {
		t.Errorf("observed %+v", stats)
	}
	// PreBuild is not asked for what is not built.
	n.PreBuild = func(context.Context, Build) error { return errors.New("cannot build here") }
	if got, err := n.Build(context.Background(), Build{Installable: "path:/nonexistent/flake#top"}); err != nil || got != want {
		t.Errorf("prebuilt with a PreBuild that refuses: %q %v", got, err)
	}
}

// A Local call asks only this machine's store even online: the offline
// flags are on it, once, and on no other call.
func TestLocalCallsNeverAskACache(t *testing.T) {
	out := t.TempDir()
	calls := testkit.FakeNix{Out: out}.Install(t)
	for _, n := range []*Nix{{}, {Offline: true}} {
		if _, err := n.Run(context.Background(), Call{Args: []string{"path-info", "--json", out}, Local: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (&Nix{}).Run(context.Background(), Call{Args: []string{"flake", "metadata"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(calls)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	local := "--extra-experimental-features nix-command flakes --offline --option substituters  path-info --json " + out
	if len(got) != 3 || got[0] != local || got[1] != local || got[2] != "--extra-experimental-features nix-command flakes flake metadata" {
		t.Errorf("calls:\n%s", strings.Join(got, "\n"))
	}
}

// A Background call runs nix 10 below the caller's priority (nice);
// others at the caller's own.
func TestBackgroundRunsNixAtALowerPriority(t *testing.T) {
	testkit.NeedCommands(t, "nice")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nix"), []byte("#!/bin/sh\nnice\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	niceness := func(background bool) int {
		out, err := (&Nix{}).Run(context.Background(), Call{Args: []string{"copy"}, Background: background})
		var n int
		if _, serr := fmt.Sscan(string(out), &n); err != nil || serr != nil {
			t.Fatalf("background %v: %q %v %v", background, out, err, serr)
		}
		return n
	}
	fg, bg := niceness(false), niceness(true)
	if want := min(fg+backgroundNice, 19); bg != want {
		t.Errorf("niceness %d in the background, %d in the foreground; want %d", bg, fg, want)
	}
}
