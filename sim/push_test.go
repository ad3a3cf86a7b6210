package sim

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

type pushEvents []step.Event

func (e *pushEvents) Emit(ev step.Event) { *e = append(*e, ev) }

func simPush(t *testing.T, edge deploy.Edge, o deploy.Options) (*deploy.Result, pushEvents, error) {
	t.Helper()
	var ev pushEvents
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound on a paced push, not its speed
	defer cancel()
	res, err := deploy.Push(ctx, edge, o, &ev)
	return res, ev, err
}

func pushCause(err error) string {
	var se *step.Error
	if errors.As(err, &se) {
		return se.Cause
	}
	return ""
}

// The simulated board goes through the same sequence as a real one: a key
// to trust, preflight, delta, copy progress, nixos-install; then a second
// push finds everything there.
func TestSimulatedBoardBehavesLikeTheRealSequence(t *testing.T) {
	edge := PushEdge(PushOptions{Rate: 400 << 20, Paths: 60, Bytes: 200 << 20, Pace: 0.2})
	board := edge.SSH.(*simSSH).b
	asked := 0
	o := deploy.Options{
		Target: remote.Target{Host: "192.168.55.1"}, Closure: "./result",
		Trust: remote.Trust{KnownHosts: filepath.Join(t.TempDir(), "known_hosts"),
			Prompt: func(_ context.Context, k remote.HostKey) (bool, error) {
				asked++
				return k.Fingerprint == board.Fingerprint(), nil
			}},
	}
	start := time.Now()
	res, ev, err := simPush(t, edge, o)
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 || res.Mode != deploy.Installer || res.Sent != 61 || res.Generation != 1 || res.SystemType != "aarch64-linux" {
		t.Errorf("first push: asked %d, %+v", asked, res)
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Errorf("a simulated push took %v: no realistic pacing", time.Since(start))
	}
	var kinds []string
	for _, e := range ev {
		switch e := e.(type) {
		case deploy.PhaseEvent:
			kinds = append(kinds, string(e.Phase))
		case deploy.RemoteLine:
			if e.Line == "installation finished!" {
				kinds = append(kinds, "finished")
			}
		}
	}
	want := []string{"connect", "preflight", "copy", "activate", "finished"}
	if len(kinds) != len(want) {
		t.Fatalf("phases %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Errorf("phases %v, want %v", kinds, want)
		}
	}

	res, _, err = simPush(t, edge, o)
	if err != nil || res.Sent != 0 || res.Present != 61 || asked != 1 {
		t.Errorf("second push: %+v %v (asked %d)", res, err, asked)
	}
}

func TestSimulatedBoardFaults(t *testing.T) {
	edge := PushEdge(PushOptions{Rate: 4 << 30, Paths: 10, Bytes: 1 << 20, Pace: 0.1})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	base := deploy.Options{Target: remote.Target{Host: "192.168.55.1"}, Closure: "./result", Trust: remote.Trust{KnownHosts: kh}}

	_, _, err := simPush(t, edge, base)
	if pushCause(err) != "host-key-unknown" {
		t.Errorf("unknown key: %v", err)
	}
	o := base
	o.Prompt = func(context.Context, remote.HostKey) (bool, error) { return false, nil }
	if _, _, err := simPush(t, edge, o); pushCause(err) != "host-key-rejected" {
		t.Errorf("rejected key: %v", err)
	}
	o = base
	o.AcceptHostKey = edge.SSH.(*simSSH).b.Fingerprint()
	o.Target.User = "jetson"
	if _, _, err := simPush(t, edge, o); pushCause(err) != "auth-refused" {
		t.Errorf("wrong user: %v", err)
	}
	o.Target.User = "nixos"
	if res, _, err := simPush(t, edge, o); err != nil || res.Mode != deploy.Installer {
		t.Errorf("nixos user with sudo: %+v %v", res, err)
	}
	o = base
	o.Target.Host = "192.168.56.1"
	if _, _, err := simPush(t, edge, o); pushCause(err) != "unreachable" {
		t.Errorf("unreachable: %v", err)
	}
	o = base
	o.Closure = "/nix/store/zzz-not-here"
	if _, _, err := simPush(t, edge, o); pushCause(err) != "bad-closure" {
		t.Errorf("bad closure: %v", err)
	}
}
