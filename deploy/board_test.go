package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// These tests push to a real board made on this machine (package
// testboard): real sshd in its own network and mount namespaces with its
// own empty /nix, real Nix on both ends, a real OpenSSH client.

var realEdge = deploy.Edge{Nix: deploy.NixCLI{Runner: proc.Host{}}, SSH: remote.OpenSSH{Runner: proc.Host{}}}

// recorder keeps every event.
type recorder struct {
	mu       sync.Mutex
	events   []step.Event
	onCopy   func(deploy.CopyProgress)
	onRemote func(deploy.RemoteLine)
}

func (r *recorder) Emit(e step.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	cb, rcb := r.onCopy, r.onRemote
	r.mu.Unlock()
	if p, ok := e.(deploy.CopyProgress); ok && cb != nil {
		cb(p)
	}
	if l, ok := e.(deploy.RemoteLine); ok && rcb != nil {
		rcb(l)
	}
}

func (r *recorder) checks() map[string]deploy.Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]deploy.Check{}
	for _, e := range r.events {
		if c, ok := e.(deploy.Check); ok {
			out[c.ID] = c
		}
	}
	return out
}

func (r *recorder) delta() *deploy.Delta {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if d, ok := e.(deploy.Delta); ok {
			return &d
		}
	}
	return nil
}

func (r *recorder) copyEvents() []deploy.CopyProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []deploy.CopyProgress
	for _, e := range r.events {
		if c, ok := e.(deploy.CopyProgress); ok {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) keys() []remote.HostKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []remote.HostKey
	for _, e := range r.events {
		if k, ok := e.(remote.HostKey); ok {
			out = append(out, k)
		}
	}
	return out
}

// boardSetup makes a board and the options to push sys to it, the board's
// key accepted as a headless run would (--accept-host-key).
func boardSetup(t *testing.T, bo testboard.Options) (*testboard.Board, deploy.Options) {
	t.Helper()
	b := testboard.New(t, bo)
	t.Setenv("NIX_CONFIG", strings.TrimPrefix(testboard.NixEnv[0], "NIX_CONFIG="))
	return b, deploy.Options{
		Target: remote.Target{Host: b.Addr, User: "root", Identity: b.ClientKey},
		Trust:  remote.Trust{KnownHosts: filepath.Join(t.TempDir(), "known_hosts"), AcceptHostKey: b.HostKeyFingerprint()},
		Log:    &bytes.Buffer{},
	}
}

func push(t *testing.T, o deploy.Options) (*deploy.Result, *recorder, error) {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := deploy.Push(ctx, realEdge, o, rec)
	return res, rec, err
}

func causeOf(err error) string {
	var se *step.Error
	if errors.As(err, &se) {
		return se.Cause
	}
	return ""
}

var (
	sysOnce  sync.Once
	sysPaths map[string]string
)

// systems builds the test systems once per test binary.
func systems(t *testing.T) map[string]string {
	t.Helper()
	testboard.Need(t)
	sysOnce.Do(func() {
		t.Setenv("NIX_CONFIG", strings.TrimPrefix(testboard.NixEnv[0], "NIX_CONFIG="))
		sysPaths = map[string]string{
			"small":   testboard.Build(t, testboard.System{Name: "deploy-small", Small: 12, BigMiB: []int{1}}),
			"big":     testboard.Build(t, testboard.System{Name: "deploy-big", Small: 3, BigMiB: []int{24, 24, 24, 24}}),
			"aarch64": testboard.Build(t, testboard.System{Name: "deploy-aarch64", System: "aarch64-linux", Small: 2}),
		}
	})
	if sysPaths == nil {
		t.Fatal("building the test systems failed earlier")
	}
	return sysPaths
}

func TestBoardFirstPushCopiesEverythingAndActivatesThenSecondSendsNothing(t *testing.T) {
	sys := systems(t)
	b, o := boardSetup(t, testboard.Options{})
	o.Closure = sys["small"]

	res, rec, err := push(t, o)
	if err != nil {
		t.Fatalf("push: %v\nlog:\n%s", err, o.Log)
	}
	d := rec.delta()
	if d == nil || d.Paths != 14 || d.Missing != 14 || d.Present != 0 || d.SendBytes < 1<<20 {
		t.Fatalf("first delta %+v", d)
	}
	if !b.Valid("", sys["small"]) {
		t.Fatal("the system is not in the board's store")
	}
	if got := b.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("switch-to-configuration called with %q", got)
	}
	if res.Sent != 14 || res.Generation != 1 || res.Mode != deploy.Switch || res.SystemType == "" {
		t.Errorf("result %+v", res)
	}
	checks := rec.checks()
	for _, id := range []string{"arch", "nix", "store-write", "target", "space"} {
		if c, ok := checks[id]; !ok || c.Status == deploy.CheckFail {
			t.Errorf("check %s: %+v", id, c)
		}
	}
	if k := rec.keys(); len(k) != 1 || k[0].Status != remote.KeyAccepted || k[0].Via != "flag" {
		t.Errorf("host key events %+v", k)
	}
	prog := rec.copyEvents()
	if len(prog) < 2 || prog[len(prog)-1].PathsDone != 14 || prog[len(prog)-1].BytesDone != d.SendBytes {
		t.Errorf("copy progress %+v", prog)
	}

	// Second push: the key is pinned now, the board has everything.
	o.AcceptHostKey = ""
	res, rec, err = push(t, o)
	if err != nil {
		t.Fatalf("second push: %v\n%s", err, o.Log)
	}
	if d := rec.delta(); d == nil || d.Missing != 0 || d.Present != 14 || d.SendBytes != 0 {
		t.Errorf("second delta %+v", d)
	}
	// The same system again: nix-env keeps generation 1.
	if res.Sent != 0 || res.Generation != 1 {
		t.Errorf("second result %+v", res)
	}
	if k := rec.keys(); len(k) != 1 || k[0].Status != remote.KeyPinned {
		t.Errorf("second push host key %+v", k)
	}
	if got := b.Read("var/jetup-activations.log"); got != "switch\nswitch\n" {
		t.Errorf("activations %q", got)
	}
}

func TestBoardWrongArchitectureIsRefusedBeforeAByteIsSent(t *testing.T) {
	sys := systems(t)
	b, o := boardSetup(t, testboard.Options{})
	o.Closure = sys["aarch64"]
	_, rec, err := push(t, o)
	if causeOf(err) != "wrong-arch" || step.ExitCodeOf(err) != step.ExitRefused {
		t.Fatalf("want wrong-arch refusal, got %v", err)
	}
	if !strings.Contains(err.Error(), "aarch64-linux") || !strings.Contains(step.NextOf(err), "x86_64-linux") {
		t.Errorf("message %q next %q", err, step.NextOf(err))
	}
	if c := rec.checks()["arch"]; c.Status != deploy.CheckFail {
		t.Errorf("arch check %+v", c)
	}
	if b.Valid("", sys["aarch64"]) || len(rec.copyEvents()) > 0 {
		t.Error("paths were sent to a board of the wrong architecture")
	}
}

func TestBoardChangedHostKeyIsRefusedBeforeCopying(t *testing.T) {
	sys := systems(t)
	b, o := boardSetup(t, testboard.Options{})
	o.Closure = sys["small"]
	// Pin the board's first key with a push of another system.
	first := o
	first.Closure = sys["aarch64"]
	if _, _, err := push(t, first); causeOf(err) != "wrong-arch" {
		t.Fatalf("pinning push: %v", err)
	}
	oldFP := b.HostKeyFingerprint()
	b.ChangeHostKey()
	newFP := b.HostKeyFingerprint()

	o.AcceptHostKey = newFP // accepting a new key is not enough to replace a pinned one
	_, rec, err := push(t, o)
	if causeOf(err) != "host-key-changed" || step.ExitCodeOf(err) != step.ExitRefused {
		t.Fatalf("want host-key-changed, got %v\n%s", err, o.Log)
	}
	if !strings.Contains(err.Error(), newFP) || !strings.Contains(err.Error(), oldFP) || !strings.Contains(step.NextOf(err), "--forget-host-key") {
		t.Errorf("message %q next %q", err, step.NextOf(err))
	}
	if k := rec.keys(); len(k) != 1 || k[0].Status != remote.KeyChanged || k[0].Pinned != oldFP {
		t.Errorf("key events %+v", k)
	}
	if b.Valid("", sys["small"]) || rec.delta() != nil {
		t.Error("the push went on after a changed host key")
	}

	// The person says the board was reflashed: forget the old key, accept the new.
	o.ForgetHostKey = true
	if _, _, err := push(t, o); err != nil {
		t.Fatalf("push after forgetting the old key: %v", err)
	}
	if !b.Valid("", sys["small"]) {
		t.Error("system not copied after re-pinning")
	}
}

// heldLink puts the push behind a relay that holds the copy's connection
// once it has carried 70 MiB towards the board: with the 96 MiB system
// the copy is then in the middle, at least two of its 24 MiB paths have
// passed and the last cannot have, however fast or busy the machine.
func heldLink(t *testing.T, b *testboard.Board, o *deploy.Options) *testboard.Link {
	l := testboard.NewLink(t, net.JoinHostPort(b.Addr, "22"), testboard.LinkOptions{HoldAfter: 70 << 20})
	host, port, _ := net.SplitHostPort(l.Addr)
	o.Target.Host = host
	o.Target.Port, _ = strconv.Atoi(port)
	o.ProgressEvery = 10 * time.Millisecond
	return l
}

// pushAsync runs a push in the background.
func pushAsync(ctx context.Context, o deploy.Options, rec *recorder) <-chan pushResult {
	done := make(chan pushResult, 1)
	go func() {
		res, err := deploy.Push(ctx, realEdge, o, rec)
		done <- pushResult{res, err}
	}()
	return done
}

type pushResult struct {
	res *deploy.Result
	err error
}

// waitHeld waits until the link holds the copy in the middle.
func waitHeld(t *testing.T, l *testboard.Link, done <-chan pushResult, o deploy.Options) {
	t.Helper()
	select {
	case <-l.Held():
	case r := <-done:
		t.Fatalf("the push ended before the link held its copy: %v\n%s", r.err, o.Log)
	case <-time.After(2 * time.Minute):
		t.Fatalf("waited 2 minutes for the copy to pass 70 MiB\n%s", o.Log)
	}
}

// bigPaths lists the closure's 24 MiB paths.
func bigPaths(t *testing.T, closure string) []string {
	t.Helper()
	out, err := exec.Command("nix-store", "-qR", closure).Output()
	if err != nil {
		t.Fatal(err)
	}
	var big []string
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "-jetup-big-") {
			big = append(big, p)
		}
	}
	return big
}

// waitLanded waits until the board's store holds one of paths: its
// daemon has taken in what the held link let through.
func waitLanded(t *testing.T, b *testboard.Board, paths []string) {
	t.Helper()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(time.Minute); ; <-poll.C {
		for _, p := range paths {
			if b.Valid("", p) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("waited a minute for the board's store to register a path sent before the hold")
		}
	}
}

func TestBoardSSHKilledMidCopyThenARerunCompletes(t *testing.T) {
	sys := systems(t)
	b, o := boardSetup(t, testboard.Options{})
	link := heldLink(t, b, &o)
	o.Closure = sys["big"]
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	done := pushAsync(ctx, o, rec)
	waitHeld(t, link, done, o)
	waitLanded(t, b, bigPaths(t, sys["big"]))
	if n := b.KillSessions(); n == 0 {
		t.Fatal("no ssh session to kill")
	}
	link.Release()
	err := (<-done).err
	if causeOf(err) != "connection-lost" || step.ExitCodeOf(err) != step.ExitFailed {
		t.Fatalf("want connection-lost, got %v\n%s", err, o.Log)
	}
	if !strings.Contains(step.NextOf(err), "run the same push again") {
		t.Errorf("next %q", step.NextOf(err))
	}
	first := rec.delta()

	o.AcceptHostKey = ""
	res, rec2, err := push(t, o)
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, o.Log)
	}
	d := rec2.delta()
	if d == nil || d.Present == 0 || d.Missing >= first.Missing || d.Missing == 0 {
		t.Errorf("re-run should send only what is missing: first %+v, then %+v", first, d)
	}
	if !b.Valid("", sys["big"]) || res.Sent != d.Missing {
		t.Errorf("re-run result %+v", res)
	}
}

func TestBoardDropMidCopyIsResumedOnANewConnection(t *testing.T) {
	sys := systems(t)
	b, o := boardSetup(t, testboard.Options{})
	link := heldLink(t, b, &o)
	o.Closure = sys["big"]
	o.Retries = 1
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	done := pushAsync(ctx, o, rec)
	waitHeld(t, link, done, o)
	if n := b.KillSessions(); n == 0 {
		t.Fatal("no ssh session to kill")
	}
	link.Release()
	r := <-done
	if r.err != nil {
		t.Fatalf("push with one retry: %v\n%s", r.err, o.Log)
	}
	if r.res.Attempts != 2 || !b.Valid("", sys["big"]) {
		t.Errorf("result %+v", r.res)
	}
	prog := rec.copyEvents()
	last := prog[len(prog)-1]
	if last.PathsDone != last.PathsTotal || last.Attempt != 2 {
		t.Errorf("last progress %+v", last)
	}
}

func TestBoardInstallerGetsTheSystemOnMntAndRunsNixosInstall(t *testing.T) {
	sys := systems(t)
	b, o := boardSetup(t, testboard.Options{Installer: true})
	o.Closure = sys["small"]
	res, rec, err := push(t, o)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, o.Log)
	}
	if res.Mode != deploy.Installer || res.Generation != 1 {
		t.Errorf("result %+v", res)
	}
	if c := rec.checks()["target"]; c.Status != deploy.CheckOK || !strings.Contains(c.Detail, "installer") {
		t.Errorf("target check %+v", c)
	}
	if !b.Valid("/mnt", sys["small"]) || b.Valid("", sys["small"]) {
		t.Error("the system must land in /mnt's store, not the installer's own")
	}
	want := "--system " + sys["small"] + " --root /mnt --no-root-passwd --no-channel-copy\n"
	if got := b.Read("var/jetup-nixos-install.log"); got != want {
		t.Errorf("nixos-install called with %q, want %q", got, want)
	}
}

func TestBoardActivationFailureIsReportedWithItsOutput(t *testing.T) {
	sys := systems(t)
	b, o := boardSetup(t, testboard.Options{})
	b.FailActivation()
	o.Closure = sys["small"]
	_, _, err := push(t, o)
	if causeOf(err) != "activation-failed" || step.ExitCodeOf(err) != step.ExitFailed {
		t.Fatalf("want activation-failed, got %v", err)
	}
	if !strings.Contains(err.Error(), "unit jetup-test.service failed to start") || !strings.Contains(err.Error(), "status 4") {
		t.Errorf("the board's output is missing from %q", err)
	}
	if !strings.Contains(step.NextOf(err), "--rollback") {
		t.Errorf("next %q", step.NextOf(err))
	}
}

func TestBoardFaultsBeforeCopying(t *testing.T) {
	sys := systems(t)
	t.Run("nix missing", func(t *testing.T) {
		b, o := boardSetup(t, testboard.Options{NoNix: true})
		o.Closure = sys["small"]
		_, _, err := push(t, o)
		if causeOf(err) != "no-nix" || step.ExitCodeOf(err) != step.ExitRefused || !strings.Contains(step.NextOf(err), "installer") {
			t.Fatalf("want no-nix, got %v (%s)", err, step.NextOf(err))
		}
		_ = b
	})
	t.Run("no space", func(t *testing.T) {
		_, o := boardSetup(t, testboard.Options{NixMiB: 16})
		o.Closure = sys["small"]
		_, rec, err := push(t, o)
		if causeOf(err) != "no-space" || step.ExitCodeOf(err) != step.ExitRefused || len(rec.copyEvents()) > 0 {
			t.Fatalf("want no-space, got %v", err)
		}
		if !strings.Contains(err.Error(), "needed") || !strings.Contains(step.NextOf(err), "nix-collect-garbage") {
			t.Errorf("message %q next %q", err, step.NextOf(err))
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		b, o := boardSetup(t, testboard.Options{})
		b.Stop()
		o.Closure = sys["small"]
		_, _, err := push(t, o)
		if causeOf(err) != "unreachable" || step.ExitCodeOf(err) != step.ExitFailed || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("want unreachable, got %v", err)
		}
	})
	t.Run("wrong user", func(t *testing.T) {
		_, o := boardSetup(t, testboard.Options{})
		o.Target.User = "jetson"
		o.Closure = sys["small"]
		_, _, err := push(t, o)
		if causeOf(err) != "auth-refused" || !strings.Contains(err.Error(), "jetson") || !strings.Contains(step.NextOf(err), "--user") {
			t.Fatalf("want auth-refused, got %v", err)
		}
	})
	t.Run("unknown key without accepting", func(t *testing.T) {
		b, o := boardSetup(t, testboard.Options{})
		o.AcceptHostKey = ""
		o.Closure = sys["small"]
		_, _, err := push(t, o)
		if causeOf(err) != "host-key-unknown" || step.ExitCodeOf(err) != step.ExitRefused ||
			!strings.Contains(step.NextOf(err), "--accept-host-key "+b.HostKeyFingerprint()) {
			t.Fatalf("want host-key-unknown, got %v (%s)", err, step.NextOf(err))
		}
	})
	t.Run("console fingerprint mismatch", func(t *testing.T) {
		_, o := boardSetup(t, testboard.Options{})
		o.AcceptHostKey = ""
		o.ConsoleHostKey = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		o.Closure = sys["small"]
		_, _, err := push(t, o)
		if causeOf(err) != "host-key-mismatch" || step.ExitCodeOf(err) != step.ExitRefused {
			t.Fatalf("want host-key-mismatch, got %v", err)
		}
	})
}

func TestBoardPushFromAFlakeBuildsItFirst(t *testing.T) {
	systems(t)
	b, o := boardSetup(t, testboard.Options{})
	dir := t.TempDir()
	salt := fmt.Sprint(time.Now().UnixNano())
	flake := `{
  outputs = { self }: {
    nixosConfigurations.board.config.system.build.toplevel = derivation {
      name = "nixos-system-flake-` + salt + `";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "/bin/mkdir -p $out/bin; printf x86_64-linux > $out/system; printf '#!/bin/sh\\necho \"$@\" >> /nix/var/jetup-activations.log\\n' > $out/bin/switch-to-configuration; /bin/chmod +x $out/bin/switch-to-configuration" ];
    };
  };
}
`
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Flake = "path:" + dir + "#board"
	res, rec, err := push(t, o)
	if err != nil {
		t.Fatalf("push --flake: %v\n%s", err, o.Log)
	}
	var built bool
	for _, e := range rec.events {
		if ph, ok := e.(deploy.PhaseEvent); ok && ph.Phase == deploy.PhaseBuild {
			built = strings.Contains(ph.What, "#nixosConfigurations.board.config.system.build.toplevel")
		}
	}
	// The Nix runner's tracker: one derivation to build (its first
	// change is always reported; later ones are throttled).
	var progress bool
	for _, e := range rec.events {
		if bp, ok := e.(deploy.BuildProgress); ok && bp.Expected == 1 {
			progress = true
		}
	}
	if !progress {
		t.Errorf("no build progress among %d events", len(rec.events))
	}
	if !built || !strings.HasSuffix(res.System, "-nixos-system-flake-"+salt) || !b.Valid("", res.System) {
		t.Errorf("built %v, result %+v", built, res)
	}
	if got := b.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("activation %q", got)
	}

	o.Flake = "path:" + dir + "#nosuch"
	if _, _, err := push(t, o); causeOf(err) != "build-failed" || !strings.Contains(err.Error(), "nosuch") && !strings.Contains(fmt.Sprint(errors.Unwrap(err)), "nosuch") {
		t.Errorf("a missing configuration: %v", err)
	}
}

// Issue 21 finding 3 on the board shell: switch-to-configuration prints a
// 2 MiB line, then more. The push reads past it (the line cut) and ends
// with the activation's result; the old bufio.Scanner capped at 1 MiB
// stopped reading there, the board blocked on output nobody read, and the
// push hung until its context ended.
func TestBoardLongOutputLineDoesNotHangThePush(t *testing.T) {
	systems(t)
	_, o := boardSetup(t, testboard.Options{})
	dir := t.TempDir()
	stc := "#!/bin/sh\n/usr/bin/head -c 2097152 /dev/zero | /usr/bin/tr '\\0' x; echo; echo switched-after-a-long-line\n"
	if err := os.WriteFile(filepath.Join(dir, "stc.sh"), []byte(stc), 0o755); err != nil {
		t.Fatal(err)
	}
	flake := `{
  outputs = { self }: {
    nixosConfigurations.board.config.system.build.toplevel = derivation {
      name = "nixos-system-long-line-` + fmt.Sprint(time.Now().UnixNano()) + `";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "/bin/mkdir -p $out/bin; printf x86_64-linux > $out/system; /bin/cp ${./stc.sh} $out/bin/switch-to-configuration; /bin/chmod +x $out/bin/switch-to-configuration" ];
    };
  };
}
`
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Flake = "path:" + dir + "#board"
	_, rec, err := push(t, o)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	var after, long bool
	for _, e := range rec.events {
		if r, ok := e.(deploy.RemoteLine); ok {
			after = after || r.Line == "switched-after-a-long-line"
			long = long || strings.HasPrefix(r.Line, "xxxx") && len(r.Line) <= 4<<10+len("…")
		}
	}
	if !after || !long {
		t.Errorf("the board's lines: the one after the long line %v, the long one clipped %v", after, long)
	}
}

// The console may print the board's RSA key's fingerprint rather than its
// ed25519 one: that key vouches as well, and is the one pinned.
func TestBoardConsoleFingerprintOfAnotherKeyTypeVouches(t *testing.T) {
	sys := systems(t)
	b, o := boardSetup(t, testboard.Options{RSAKey: true})
	o.AcceptHostKey = ""
	o.ConsoleHostKey = b.RSAFingerprint()
	o.Closure = sys["small"]
	_, rec, err := push(t, o)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, o.Log)
	}
	if k := rec.keys(); len(k) != 1 || k[0].Type != "ssh-rsa" || k[0].Via != "console" || k[0].Fingerprint != b.RSAFingerprint() {
		t.Errorf("key events %+v", k)
	}
	o.ConsoleHostKey = ""
	if _, rec, err = push(t, o); err != nil || rec.keys()[0].Status != remote.KeyPinned {
		t.Errorf("second push with the RSA key pinned: %v %+v", err, rec.keys())
	}
}

// After a switch the board waits for jetup to reach it again: a push that
// can is confirmed; one whose link is cut right after the activation, or
// whose health check fails, is rolled back by the board itself.
func TestBoardSwitchIsConfirmedOrRolledBackByTheBoardItself(t *testing.T) {
	sys := systems(t)
	second := testboard.Build(t, testboard.System{Name: "deploy-small-second", Small: 3})
	confirmState := func(b *testboard.Board) string {
		out, _ := b.Command("sh", "-c", "cat /run/jetup-confirm-*/state").Output()
		return strings.TrimSpace(string(out))
	}
	profile := func(b *testboard.Board) string {
		link, _ := os.Readlink(filepath.Join(b.NixDir, "var/nix/profiles/system"))
		p, _ := os.Readlink(filepath.Join(b.NixDir, "var/nix/profiles", link))
		return p
	}
	base := func(t *testing.T) (*testboard.Board, deploy.Options) {
		b, o := boardSetup(t, testboard.Options{})
		o.Closure = sys["small"]
		if _, _, err := push(t, o); err != nil {
			t.Fatalf("first push: %v\n%s", err, o.Log)
		}
		o.AcceptHostKey, o.Closure, o.ConfirmTimeout = "", second, 4*time.Second
		return b, o
	}

	t.Run("confirmed", func(t *testing.T) {
		b, o := base(t)
		o.Health = "test -x /nix/var/nix/profiles/system/bin/switch-to-configuration"
		res, rec, err := push(t, o)
		if err != nil || !res.Confirmed {
			t.Fatalf("push: %v %+v\n%s", err, res, o.Log)
		}
		if st := confirmState(b); st != "confirmed" || profile(b) != second {
			t.Errorf("board state %q, profile %s", st, profile(b))
		}
		var phased bool
		for _, e := range rec.events {
			if ph, ok := e.(deploy.PhaseEvent); ok && ph.Phase == deploy.PhaseConfirm {
				phased = true
			}
		}
		if !phased {
			t.Error("no confirm phase")
		}
	})

	t.Run("link cut after the activation", func(t *testing.T) {
		b, o := base(t)
		link := testboard.NewLink(t, net.JoinHostPort(b.Addr, "22"), testboard.LinkOptions{})
		host, port, _ := net.SplitHostPort(link.Addr)
		o.Target.Host = host
		o.Target.Port, _ = strconv.Atoi(port)
		o.AcceptHostKey = b.HostKeyFingerprint() // the relay's address is a new host to known_hosts
		var once sync.Once
		rec := &recorder{onRemote: func(l deploy.RemoteLine) {
			if strings.Contains(l.Line, "jetup:confirm") || strings.Contains(l.Line, "activating the test system") {
				once.Do(func() { link.Cut(); b.KillSessions() })
			}
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, err := deploy.Push(ctx, realEdge, o, rec)
		if c := causeOf(err); c != "not-confirmed" && c != "connection-lost" {
			t.Fatalf("push through a cut link: %v\n%s", err, o.Log)
		}
		waitFor(t, "the board to roll back by itself", func() bool { return strings.HasPrefix(confirmState(b), "rolled-back") })
		if profile(b) != sys["small"] || b.Read("var/jetup-activations.log") != "switch\nswitch\nswitch\n" {
			t.Errorf("profile %s, activations %q", profile(b), b.Read("var/jetup-activations.log"))
		}
		if _, err := os.Lstat(filepath.Join(b.NixDir, "var/nix/profiles/system-2-link")); err == nil {
			t.Error("the unconfirmed generation is still there")
		}
	})

	t.Run("health check fails", func(t *testing.T) {
		b, o := base(t)
		o.Health = "false"
		_, _, err := push(t, o)
		if causeOf(err) != "rolled-back" || step.ExitCodeOf(err) != step.ExitFailed || !strings.Contains(err.Error(), "health check") {
			t.Fatalf("want rolled-back, got %v\n%s", err, o.Log)
		}
		if profile(b) != sys["small"] {
			t.Errorf("profile %s", profile(b))
		}
	})
}

// waitFor polls cond (the board's state files) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(time.Minute); !cond(); <-poll.C {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// The fleet's hooks: BeforeActivate runs once the paths are there and can
// stop the push with nothing activated; SkipIfCurrent leaves a board
// that already runs the system alone (nothing sent, not activated again).
func TestBoardBeforeActivateAndSkipIfCurrent(t *testing.T) {
	testboard.Need(t)
	b, o := boardSetup(t, testboard.Options{System: "/nix/store/0c6kzph8v1jmyd7d6jz0y9l4d0a9gk3x-nixos-system-initial-24.11"})
	o.Closure = testboard.Build(t, testboard.System{Name: "deploy-current", Small: 3, Activate: testboard.CurrentSystem})
	refusal := errors.New("no token for this agent")
	called := 0
	o.BeforeActivate = func(context.Context) (func(), error) {
		called++
		if !b.Valid("", o.Closure) {
			t.Error("BeforeActivate ran before the paths arrived")
		}
		return nil, refusal
	}
	if _, _, err := push(t, o); !errors.Is(err, refusal) || called != 1 {
		t.Fatalf("push: %v (hook called %d times)", err, called)
	}
	if got := b.Read("var/jetup-activations.log"); got != "" {
		t.Errorf("activated after the hook refused: %q", got)
	}
	released := false
	o.AcceptHostKey = ""
	o.BeforeActivate = func(context.Context) (func(), error) { return func() { released = true }, nil }
	o.SkipIfCurrent = true
	if res, _, err := push(t, o); err != nil || res.Current || !released {
		t.Fatalf("first push: %v %+v (released %v)", err, res, released)
	}
	res, rec, err := push(t, o)
	if err != nil || !res.Current || res.Sent != 0 || !strings.Contains(res.Text(), "already runs") {
		t.Fatalf("second push: %v %+v", err, res)
	}
	if d := rec.delta(); d == nil || d.Missing != 0 {
		t.Errorf("delta %+v", d)
	}
	if got := b.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("activations %q: the current system was activated again", got)
	}
}

// A switch to a system whose kernel is not the booted one's says that a
// reboot is needed (and that the rollback covered the live switch only);
// a switch that keeps the booted kernel says nothing of the kind.
func TestBoardSwitchToANewKernelSaysARebootIsNeeded(t *testing.T) {
	sys := systems(t)
	kernel := testboard.Build(t, testboard.System{Name: "deploy-kernel", Small: 3, Kernel: "6.1.99"})
	b, o := boardSetup(t, testboard.Options{})
	o.Closure = sys["small"]
	if _, _, err := push(t, o); err != nil {
		t.Fatalf("first push: %v\n%s", err, o.Log)
	}
	// The board booted the first system.
	if out, err := b.Command("ln", "-sfn", sys["small"], "/run/booted-system").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	o.AcceptHostKey, o.ConfirmTimeout = "", 30*time.Second
	for _, c := range []struct {
		closure string
		want    []string
	}{{kernel, []string{"kernel"}}, {sys["small"], nil}} {
		o.Closure = c.closure
		res, _, err := push(t, o)
		if err != nil {
			t.Fatalf("push %s: %v\n%s", c.closure, err, o.Log)
		}
		if strings.Join(res.RebootNeeded, ",") != strings.Join(c.want, ",") ||
			strings.Contains(res.Text(), "a reboot is needed") != (c.want != nil) {
			t.Errorf("push %s: reboot_needed %v, text %q", c.closure, res.RebootNeeded, res.Text())
		}
	}
}
