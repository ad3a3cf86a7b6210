package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// These tests push to a real board made on this machine (package
// testboard): real sshd in its own network and mount namespaces with its
// own empty /nix, real Nix on both ends, a real OpenSSH client.

var realEdge = deploy.Edge{Nix: deploy.NixCLI{Runner: proc.Host{}}, SSH: deploy.OpenSSH{Runner: proc.Host{}}}

// recorder keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []step.Event
	onCopy func(deploy.CopyProgress)
}

func (r *recorder) Emit(e step.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	cb := r.onCopy
	r.mu.Unlock()
	if p, ok := e.(deploy.CopyProgress); ok && cb != nil {
		cb(p)
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

func (r *recorder) keys() []deploy.HostKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []deploy.HostKey
	for _, e := range r.events {
		if k, ok := e.(deploy.HostKey); ok {
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
		Target:        deploy.Target{Host: b.Addr, User: "root", Identity: b.ClientKey},
		KnownHosts:    filepath.Join(t.TempDir(), "known_hosts"),
		AcceptHostKey: b.HostKeyFingerprint(),
		Log:           &bytes.Buffer{},
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
	if k := rec.keys(); len(k) != 1 || k[0].Status != deploy.KeyAccepted || k[0].Via != "flag" {
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
	if k := rec.keys(); len(k) != 1 || k[0].Status != deploy.KeyPinned {
		t.Errorf("second push host key %+v", k)
	}
	if got := b.Read("var/jetup-activations.log"); got != "switch\nswitch\n" {
		t.Errorf("activations %q", got)
	}
}
