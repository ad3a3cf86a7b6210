package sim

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

// syncBuffer is a log file the test can look at while the session writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Len()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.buf.Bytes()...)
}

type events struct {
	mu      sync.Mutex
	all     []step.Event
	changed testkit.Changes
}

func (e *events) Emit(ev step.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	e.changed.Changed()
}

func (e *events) seen(ok func(step.Event) bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.all {
		if ok(ev) {
			return true
		}
	}
	return false
}

func (e *events) wait(t *testing.T, ok func(step.Event) bool) {
	t.Helper()
	if !e.changed.WaitUntil(time.Minute, func() bool { return e.seen(ok) }) {
		e.mu.Lock()
		defer e.mu.Unlock()
		t.Fatalf("waited a minute for an event; got %+v", e.all)
	}
}

func (e *events) output() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.all {
		if o, ok := ev.(serialcon.Output); ok {
			b.Write(o.Data)
		}
	}
	return b.String()
}

func conn(kind string) func(step.Event) bool {
	return func(e step.Event) bool { c, ok := e.(serialcon.Connection); return ok && c.Event == kind }
}

func stage(id string) func(step.Event) bool {
	return func(e step.Event) bool { s, ok := e.(serialcon.Stage); return ok && s.Stage == id }
}

func orinNano(t *testing.T) *profiles.Profile {
	set, _ := profiles.Load(assets.Profiles(), "")
	p, ok := set.Get("orin-nano-devkit")
	if !ok {
		t.Fatal("no profile")
	}
	return p
}

func TestBoardBootsToTheInstallerShell(t *testing.T) {
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 40})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The board powers on when its console is first opened (waitOpen),
	// not before.
	if b.Powered() {
		t.Fatal("the board booted before anyone watched its console")
	}
	until, _ := serialcon.ParseUntil(serialcon.StageShell)
	raw := &syncBuffer{}
	ev := &events{}
	con := serialcon.New(serialcon.Options{Ports: b, Profile: orinNano(t), Until: until, RawLog: raw, Timeout: 30 * time.Second})
	res, err := con.Run(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range res.Stages {
		ids = append(ids, s.Stage)
	}
	if got := strings.Join(ids, " "); got != "mb1 mb2 uefi uefi-menu kernel nixos-stage-1 nixos-stage-2 login shell" {
		t.Errorf("stages %s", got)
	}
	for id, want := range map[string]string{serialcon.FactIP: BoardAddress, serialcon.FactHostname: "nixos",
		serialcon.FactNixOSVersion: "25.11.20260118.77ef7a2", serialcon.FactFirmwareVersion: "36.4.3-0a1b2c3d4e5f"} {
		if got := res.Last(id); got != want {
			t.Errorf("fact %s = %q, want %q", id, got, want)
		}
	}
	if !strings.Contains(res.Why, "CP210x") || !strings.HasSuffix(res.Port, "-if00-port0") {
		t.Errorf("port %s why %q", res.Port, res.Why)
	}
	if !bytes.Equal(raw.Bytes(), b.Sent()) {
		t.Errorf("the raw log (%d bytes) is not what the board sent (%d bytes)", raw.Len(), len(b.Sent()))
	}
}

func TestBoardUnplugAndReplugKeepOneContinuousLog(t *testing.T) {
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	until, _ := serialcon.ParseUntil(serialcon.StageShell)
	raw, text := &syncBuffer{}, &syncBuffer{}
	ev := &events{}
	con := serialcon.New(serialcon.Options{Ports: b, Port: b.Path(), Until: until, RawLog: raw, TextLog: text, Timeout: 60 * time.Second})
	done := make(chan error, 1)
	var res serialcon.Result
	go func() { var err error; res, err = con.Run(context.Background(), ev); done <- err }()

	ev.wait(t, stage(serialcon.StageUEFI))
	// Pull the cable once jetup has read everything sent so far.
	b.UnplugWhen(func(sent int) bool { return raw.Len() == sent })
	ev.wait(t, conn(serialcon.EventDisconnected))
	if err := b.Replug(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, conn(serialcon.EventReconnected))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.Reconnects != 1 {
		t.Errorf("reconnects %d", res.Reconnects)
	}
	if !bytes.Equal(raw.Bytes(), b.Sent()) {
		r, s := raw.Bytes(), b.Sent()
		i := 0
		for i < len(r) && i < len(s) && r[i] == s[i] {
			i++
		}
		t.Errorf("bytes lost: the raw log has %d, the port got %d; they differ at %d: %q vs %q", len(r), len(s), i, r[max(0, i-40):min(len(r), i+40)], s[max(0, i-40):min(len(s), i+40)])
	}
	log := string(text.Bytes())
	d, r := strings.Index(log, "--- jetup: disconnected"), strings.Index(log, "--- jetup: reconnected")
	if d < 0 || r < d || !strings.Contains(log[:d], "Jetson UEFI firmware") || !strings.Contains(log[r:], "nixos login:") {
		t.Errorf("text log marks:\n%s", log)
	}

	// The board echoes what it is sent and prompts again.
	b2, _ := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 1000})
	defer b2.Close()
	ev2 := &events{}
	con2 := serialcon.New(serialcon.Options{Ports: b2, Timeout: 20 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { _, _ = con2.Run(ctx, ev2); close(done2) }()
	ev2.wait(t, stage(serialcon.StageShell))
	if err := con2.Send([]byte("uname -m\r")); err != nil {
		t.Fatal(err)
	}
	if !ev2.changed.WaitUntil(time.Minute, func() bool { return strings.Contains(ev2.output(), "uname -m\r\n\x1b[1;32m[nixos@nixos:~]$") }) {
		t.Fatalf("waited a minute for the echo and the new prompt: %q", ev2.output())
	}
	cancel()
	<-done2
}

// A board held at a stage prints everything before it and nothing of it
// until Release, so a test can look at the earlier state without racing
// the boot.
func TestBoardHoldsAtAStageUntilReleased(t *testing.T) {
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 1000, HoldAt: serialcon.StageShell})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ev := &events{}
	con := serialcon.New(serialcon.Options{Ports: b, Timeout: 60 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _, _ = con.Run(ctx, ev); close(done) }()
	defer func() { cancel(); <-done }()

	select {
	case <-b.Held():
	case <-time.After(60 * time.Second):
		t.Fatal("the board never reached its hold before the shell prompt")
	}
	sent := string(b.Sent())
	if !strings.Contains(sent, "nixos login: nixos (automatic login)") || strings.Contains(sent, "[nixos@nixos:~]$") {
		t.Fatalf("held before the shell, the board sent:\n%q", sent[max(0, len(sent)-200):])
	}
	ev.wait(t, stage(serialcon.StageLogin))
	ev.mu.Lock()
	for _, e := range ev.all {
		if s, ok := e.(serialcon.Stage); ok && s.Stage == serialcon.StageShell {
			t.Error("the console saw the shell while the board was held")
		}
	}
	ev.mu.Unlock()
	b.Release()
	b.Release() // twice is harmless
	ev.wait(t, stage(serialcon.StageShell))
}

func TestBoardHoldAtNeedsAStageItsScriptReaches(t *testing.T) {
	for _, tc := range []struct {
		hold   string
		script []BootLine
		want   string
	}{
		{"shel", nil, "is not a console stage"},
		{serialcon.StageLogin, []BootLine{{0, "UEFI Interactive Shell v2.2"}, {0, "\x00Shell> "}}, `never reaches stage "login"`},
	} {
		_, err := NewBoard(BoardOptions{Dir: t.TempDir(), HoldAt: tc.hold, Script: tc.script})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("HoldAt %q: error %v, want %q", tc.hold, err, tc.want)
		}
	}
	// The UEFI shell's prompt is the shell stage: the hold is before it.
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), HoldAt: serialcon.StageShell,
		Script: []BootLine{{0, "UEFI Interactive Shell v2.2"}, {0, "\x00Shell> "}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.hold != 1 {
		t.Errorf("held before line %d, want 1 (the prompt)", b.hold)
	}
}
