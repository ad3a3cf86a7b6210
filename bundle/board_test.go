package bundle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// These tests run against real boards made on this machine (package
// testboard): real sshd in their own network and mount namespaces, their
// own /nix, real Nix on both ends.

var sshDialer = remote.OpenSSH{Runner: proc.Host{}}

// recorder keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []step.Event
}

func (r *recorder) Emit(e step.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// home is the home side of a test: a state dir with its known_hosts and
// mirror.
type home struct {
	state  string
	mirror bundle.Mirror
	trust  remote.Trust
	log    *bytes.Buffer
}

func newHome(t testing.TB, b *testboard.Board) *home {
	state := t.TempDir()
	return &home{state: state, mirror: bundle.MirrorIn(state), log: &bytes.Buffer{},
		trust: remote.Trust{KnownHosts: filepath.Join(state, "known_hosts"), AcceptHostKey: b.HostKeyFingerprint()}}
}

func target(b *testboard.Board) remote.Target {
	return remote.Target{Host: b.Addr, User: "root", Identity: b.ClientKey}
}

// push sends sys to the board with jetup's push (switch).
func (h *home) push(t testing.TB, b *testboard.Board, sys string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	edge := deploy.Edge{Nix: deploy.NixCLI{Runner: proc.Host{}}, SSH: sshDialer}
	_, err := deploy.Push(ctx, edge, deploy.Options{Target: target(b), Closure: sys, Mode: deploy.Switch, Trust: h.trust, Log: h.log}, step.Discard)
	if err != nil {
		t.Fatalf("push %s: %v\n%s", sys, err, h.log)
	}
}

// collect records the board's manifest over SSH.
func (h *home) collect(t testing.TB, b *testboard.Board) *bundle.Collected {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := bundle.Collect(ctx, sshDialer, h.mirror, bundle.CollectOptions{Target: target(b), Trust: h.trust, From: "ssh", Log: h.log}, &recorder{})
	if err != nil {
		t.Fatalf("collect: %v\n%s", err, h.log)
	}
	return c
}

// pathInfo is this machine's `nix path-info -r --json` of p, by path.
func pathInfo(t testing.TB, p string) map[string]bundle.Path {
	t.Helper()
	out, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "path-info", "-r", "--json", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	var infos []struct {
		Path    string `json:"path"`
		NarHash string `json:"narHash"`
		NarSize int64  `json:"narSize"`
	}
	if err := json.Unmarshal(out, &infos); err != nil {
		t.Fatal(err)
	}
	m := map[string]bundle.Path{}
	for _, in := range infos {
		h, err := bundle.ParseNarHash(in.NarHash)
		if err != nil {
			t.Fatal(err)
		}
		m[in.Path] = bundle.Path{Path: in.Path, NarHash: h, NarSize: in.NarSize}
	}
	return m
}

var (
	sysOnce  sync.Once
	sysPaths map[string]string
)

// systems builds the test systems once per test binary.
func systems(t *testing.T) map[string]string {
	t.Helper()
	testboard.Need(t)
	t.Setenv("NIX_CONFIG", strings.TrimPrefix(testboard.NixEnv[0], "NIX_CONFIG="))
	sysOnce.Do(func() {
		sysPaths = map[string]string{
			"base": testboard.Build(t, testboard.System{Name: "bundle-base", Small: 6, BigMiB: []int{1}}),
		}
	})
	if sysPaths == nil {
		t.Fatal("building the test systems failed earlier")
	}
	return sysPaths
}

func TestManifestOverSSHIsTheBoardsStoreAndIsRecordedByHostKey(t *testing.T) {
	sys := systems(t)
	b := testboard.New(t, testboard.Options{})
	h := newHome(t, b)
	h.push(t, b, sys["base"])

	c := h.collect(t, b)
	m := c.Manifest
	want := pathInfo(t, sys["base"])
	if len(m.Paths) != len(want) {
		t.Fatalf("manifest has %d paths, the closure %d", len(m.Paths), len(want))
	}
	for _, p := range m.Paths {
		if w, ok := want[p.Path]; !ok || w.NarHash != p.NarHash || w.NarSize != p.NarSize {
			t.Errorf("%s: manifest %v %d, this store %v %d", p.Path, p.NarHash, p.NarSize, w.NarHash, w.NarSize)
		}
	}
	if m.Fingerprint != b.HostKeyFingerprint() || m.Current != sys["base"] || m.Profile != bundle.SystemProfile ||
		len(m.Generations) != 1 || m.Generations[0].Number != 1 || !m.Generations[0].Current || m.Sequence != 0 {
		t.Errorf("manifest %+v", m)
	}
	if !strings.HasPrefix(m.Decoder, "zstd 1.") || m.FreeBytes <= 0 || time.Since(m.Time) > time.Hour {
		t.Errorf("decoder %q, free %d, time %v", m.Decoder, m.FreeBytes, m.Time)
	}

	// Recorded under the host key; found by host and by fingerprint.
	for _, key := range []string{b.Addr, b.HostKeyFingerprint(), b.Addr + ":22"} {
		bd, err := h.mirror.Find(key)
		if err != nil || bd.Fingerprint != b.HostKeyFingerprint() || bd.Current != sys["base"] || bd.Paths != len(want) || bd.ManifestFrom != "ssh" {
			t.Errorf("find %s: %+v %v", key, bd, err)
		}
	}
	raw, man, err := h.mirror.Manifest(b.HostKeyFingerprint())
	if err != nil || len(man.Paths) != len(want) || bundle.ManifestHash(raw) != c.Board.ManifestHash {
		t.Errorf("stored manifest: %v", err)
	}
	if _, err := h.mirror.Find("192.0.2.1"); !errors.Is(err, bundle.ErrUnknownBoard) {
		t.Errorf("unknown host: %v", err)
	}
}
