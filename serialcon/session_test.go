package serialcon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// socatBoard is the far end of a real pty made by socat
// (`socat STDIO pty,raw,echo=0,link=L`): what the test writes to socat's
// stdin the port receives, and what jetup sends comes out of its stdout.
// Ending socat closes the pty master: to the port's reader that is an
// unplugged adapter, and a new socat with the same link is the replug.
type socatBoard struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	mu      sync.Mutex
	got     bytes.Buffer
	changed testkit.Changes // after each read from socat
	done    chan struct{}
}

// bound is how long a test waits for anything before it gives up: far
// more than any of these waits takes, even on a busy machine.
const bound = time.Minute

func startSocat(t *testing.T, link string) *socatBoard {
	t.Helper()
	testkit.NeedCommands(t, "socat")
	ctx, cancel := context.WithCancel(context.Background())
	b := &socatBoard{done: make(chan struct{})}
	// -d -d: socat says "starting data transfer loop" once both ends are
	// open, the pty's link made.
	b.cmd = proc.Host{}.Command(ctx, "socat", "-d", "-d", "STDIO", "pty,raw,echo=0,link="+link)
	b.in, _ = b.cmd.StdinPipe()
	out, _ := b.cmd.StdoutPipe()
	errOut, _ := b.cmd.StderrPipe()
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(b.done)
		buf := make([]byte, 4096)
		for {
			n, err := out.Read(buf)
			b.mu.Lock()
			b.got.Write(buf[:n])
			b.mu.Unlock()
			b.changed.Changed()
			if err != nil {
				return
			}
		}
	}()
	ready := make(chan struct{})
	go func() {
		r := bufio.NewReader(errOut)
		said := false
		for {
			line, err := r.ReadString('\n')
			if !said && strings.Contains(line, "starting data transfer loop") {
				close(ready)
				said = true
			}
			if err != nil {
				return // drained to EOF: socat never blocks on its log
			}
		}
	}()
	t.Cleanup(func() { cancel(); b.stop() })
	select {
	case <-ready:
	case <-b.done:
		t.Fatal("socat ended before it made its pty")
	case <-time.After(bound):
		t.Fatalf("waited %v for socat to make its pty", bound)
	}
	if !exists(link) {
		t.Fatalf("socat said it was ready but %s is missing", link)
	}
	return b
}

func (b *socatBoard) write(t *testing.T, p []byte) {
	t.Helper()
	if _, err := b.in.Write(p); err != nil {
		t.Fatal(err)
	}
}

// stop ends socat: the adapter is unplugged.
func (b *socatBoard) stop() {
	_ = proc.EndGroup(b.cmd)
	<-b.done
	_ = b.cmd.Wait()
}

func (b *socatBoard) received() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got.String()
}

// waitReceived waits until what the board received passes ok.
func (b *socatBoard) waitReceived(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	b.changed.Wait(t, bound, "the board to receive "+what, func() bool { return ok(b.received()) })
}

// eventLog collects a session's events for assertions.
type eventLog struct {
	mu      sync.Mutex
	events  []step.Event
	out     bytes.Buffer
	changed testkit.Changes
}

func (l *eventLog) Emit(e step.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	if o, ok := e.(Output); ok {
		l.out.Write(o.Data)
	}
	l.mu.Unlock()
	l.changed.Changed()
}

func (l *eventLog) find(ok func(step.Event) bool) step.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if ok(e) {
			return e
		}
	}
	return nil
}

func (l *eventLog) waitFor(t *testing.T, what string, ok func(step.Event) bool) step.Event {
	t.Helper()
	var found step.Event
	if !l.changed.WaitUntil(bound, func() bool { found = l.find(ok); return found != nil }) {
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Fatalf("waited %v for a %s event; got %+v", bound, what, l.events)
	}
	return found
}

// waitOutput waits until the session's output passes ok.
func (l *eventLog) waitOutput(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	l.changed.Wait(t, bound, what, func() bool { return ok(l.output()) })
}

func (l *eventLog) output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}

func isConn(kind string) func(step.Event) bool {
	return func(e step.Event) bool { c, ok := e.(Connection); return ok && c.Event == kind }
}

type runResult struct {
	res Result
	err error
}

func run(c *Console, ctx context.Context, sink step.Sink) chan runResult {
	ch := make(chan runResult, 1)
	go func() { r, err := c.Run(ctx, sink); ch <- runResult{r, err} }()
	return ch
}

func TestSessionSurvivesUnplugAndKeepsOneLog(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "ttyBOARD")
	boot := transcript(t, "serial-03-agx-orin-uefi-to-nixos-login.txt")
	cut := bytes.Index(boot, []byte("EFI stub: Using DTB"))
	part1, part2 := boot[:cut], boot[cut:]

	board := startSocat(t, link)
	rawFile, _ := os.Create(filepath.Join(dir, "console.raw"))
	textFile, _ := os.Create(filepath.Join(dir, "console.log"))
	until, _ := ParseUntil(StageLogin)
	events := &eventLog{}
	con := New(Options{Port: link, RawLog: rawFile, TextLog: textFile, Until: until, Timeout: 60 * time.Second})
	done := run(con, context.Background(), events)

	events.waitFor(t, "connected", isConn(EventConnected))
	board.write(t, part1)
	events.waitFor(t, "kernel stage", func(e step.Event) bool { s, ok := e.(Stage); return ok && s.Stage == StageKernel })
	events.waitOutput(t, "the end of the first part on the screen", func(out string) bool {
		return strings.HasSuffix(out, string(part1[len(part1)-20:]))
	})
	board.stop() // unplugged
	gone := events.waitFor(t, "disconnected", isConn(EventDisconnected)).(Connection)
	if gone.Offset != int64(len(part1)) {
		t.Errorf("disconnected at byte %d, want %d", gone.Offset, len(part1))
	}
	if err := con.Send([]byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("send while unplugged: %v", err)
	}

	board = startSocat(t, link) // plugged back: same link, a new pty behind it
	events.waitFor(t, "reconnected", isConn(EventReconnected))
	board.write(t, part2)
	var r runResult
	select {
	case r = <-done:
	case <-time.After(bound):
		t.Fatalf("waited %v for the session to end at the login prompt", bound)
	}
	rawFile.Close()
	textFile.Close()
	if r.err != nil || !r.res.Matched || r.res.Reconnects != 1 {
		t.Fatalf("result %+v err %v", r.res, r.err)
	}
	if got := stageIDs(r.res.Summary); strings.Join(got, ",") != "uefi,uefi-menu,kernel,login" {
		t.Errorf("stages %v", got)
	}
	raw, _ := os.ReadFile(rawFile.Name())
	if !bytes.Equal(raw, boot[:len(raw)]) || len(raw) < len(part1)+bytes.Index(part2, []byte("login:")) {
		t.Errorf("raw log is not the board's bytes: %d of %d", len(raw), len(boot))
	}
	text, _ := os.ReadFile(textFile.Name())
	log := string(text)
	i1 := strings.Index(log, "EFI stub: Booting Linux Kernel...")
	i2 := strings.Index(log, "--- jetup: disconnected")
	i3 := strings.Index(log, "--- jetup: reconnected")
	i4 := strings.Index(log, "EFI stub: Using DTB from configuration table")
	if i1 < 0 || i2 < i1 || i3 < i2 || i4 < i3 {
		t.Errorf("text log out of order (%d %d %d %d):\n%s", i1, i2, i3, i4, log)
	}
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if _, ok := parseTextLogLine([]byte(l)); !ok {
			t.Errorf("line without a timestamp: %q", l)
		}
	}
}

func TestSessionSendsAndEchoes(t *testing.T) {
	link := filepath.Join(t.TempDir(), "tty")
	board := startSocat(t, link)
	until, _ := ParseUntil(`UEFI v2\.70`)
	events := &eventLog{}
	con := New(Options{Port: link, Until: until, Send: []byte("\x1b"), Timeout: 20 * time.Second})
	done := run(con, context.Background(), events)
	events.waitFor(t, "connected", isConn(EventConnected))
	board.waitReceived(t, "the ESC sent at connect", func(got string) bool { return strings.Contains(got, "\x1b") })
	board.write(t, []byte("\x1b[1m\x1b[33m\x1b[40mShell> \x1b[0m"))
	events.waitFor(t, "shell stage", func(e step.Event) bool { s, ok := e.(Stage); return ok && s.Stage == StageShell })
	if err := con.Send([]byte("ver\r")); err != nil {
		t.Fatal(err)
	}
	board.waitReceived(t, "ver", func(got string) bool { return strings.Contains(got, "ver\r") })
	board.write(t, []byte("ver\r\nUEFI Interactive Shell v2.2\r\nEDK II\r\nUEFI v2.70 (EDK II, 0x00010000)\r\n"))
	r := <-done
	if r.err != nil || r.res.MatchedLine != "UEFI v2.70 (EDK II, 0x00010000)" {
		t.Errorf("%+v %v", r.res, r.err)
	}
}

func TestSessionTimeoutAndMissingPort(t *testing.T) {
	link := filepath.Join(t.TempDir(), "tty")
	startSocat(t, link)
	until, _ := ParseUntil(StageLogin)
	_, err := New(Options{Port: link, Until: until, Timeout: 500 * time.Millisecond}).Run(context.Background(), step.Discard)
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != "until-timeout" || step.ExitCodeOf(err) != 1 {
		t.Errorf("until not seen: %v", err)
	}
	// No --until: the timeout ends the capture, with exit 1 as the
	// interface says for a timeout.
	_, err = New(Options{Port: link, Timeout: 300 * time.Millisecond}).Run(context.Background(), step.Discard)
	if !errors.As(err, &se) || se.Cause != "timeout" || step.ExitCodeOf(err) != 1 {
		t.Errorf("plain capture: %v", err)
	}
	events := &eventLog{}
	_, err = New(Options{Port: link + "-nothing", Timeout: 400 * time.Millisecond}).Run(context.Background(), events)
	if !errors.As(err, &se) || se.Cause != "port-missing" || step.ExitCodeOf(err) != 2 {
		t.Errorf("missing port: %v", err)
	}
	events.waitFor(t, "waiting", isConn(EventWaiting))
}

func TestSessionRefusesABusyPort(t *testing.T) {
	link := filepath.Join(t.TempDir(), "tty")
	startSocat(t, link)
	held, err := System{}.Open(link, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, err = New(Options{Port: link, Timeout: 5 * time.Second}).Run(context.Background(), step.Discard)
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != "port-busy" || step.ExitCodeOf(err) != 2 || se.Next == "" {
		t.Errorf("busy port: %v", err)
	}
}

func TestSessionPicksThePortForTheProfile(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyUSB0")
	board := startSocat(t, link)
	ports := fakePorts{ports: []PortInfo{
		{Path: "/dev/ttyACM9", USB: true, VID: "1d6b", PID: "0104", Manufacturer: "NixOS", Product: "serial", Interface: 0},
		{Path: link, USB: true, VID: "10c4", PID: "ea60", Product: "CP2102", Serial: "0001", Interface: 0},
	}}
	until, _ := ParseUntil("hello")
	con := New(Options{Ports: ports, Profile: profile(t, "orin-nano-devkit"), Until: until, Timeout: 10 * time.Second})
	events := &eventLog{}
	done := run(con, context.Background(), events)
	c := events.waitFor(t, "connected", isConn(EventConnected)).(Connection)
	if c.Port != link || !strings.Contains(c.Detail, "CP210x") {
		t.Errorf("connected %+v", c)
	}
	board.write(t, []byte("hello\r\n"))
	if r := <-done; r.err != nil || r.res.Port != link || !strings.Contains(r.res.Why, "console bridge of orin-nano-devkit") {
		t.Errorf("%+v %v", r.res, r.err)
	}
}

// fakePorts lists made-up USB details for real ptys: there is no USB bus
// here, but the ports are real and opened by System.
type fakePorts struct{ ports []PortInfo }

func (f fakePorts) List() ([]PortInfo, error) { return f.ports, nil }
func (f fakePorts) Open(path string, cfg Config) (Device, error) {
	return System{}.Open(path, cfg)
}

func TestSessionSendAtAStage(t *testing.T) {
	link := filepath.Join(t.TempDir(), "tty")
	board := startSocat(t, link)
	until, _ := ParseUntil(StageUEFIMenu)
	events := &eventLog{}
	con := New(Options{Port: link, Until: until, Send: []byte(KeyEsc), SendAt: StageUEFIMenu, Timeout: 20 * time.Second})
	done := run(con, context.Background(), events)
	events.waitFor(t, "connected", isConn(EventConnected))
	// The firmware's banner, not yet its menu: the session has read it
	// when its stage comes; then a marker sent by hand reaches the board
	// behind anything sent before it, so the board holding only the
	// marker shows nothing went out at connect or at the banner.
	board.write(t, []byte("Jetson UEFI firmware (version 35.3.1 built on 1980-01-01T00:00:00+00:00)\r\n"))
	events.waitFor(t, "uefi stage", func(e step.Event) bool { s, ok := e.(Stage); return ok && s.Stage == StageUEFI })
	if err := con.Send([]byte("#")); err != nil {
		t.Fatal(err)
	}
	board.waitReceived(t, "the marker", func(got string) bool { return strings.Contains(got, "#") })
	if got := board.received(); got != "#" {
		t.Fatalf("sent %q before the menu", got)
	}
	board.write(t, []byte("ESC   to enter Setup.\r\n"))
	if r := <-done; r.err != nil || !r.res.Matched {
		t.Fatalf("%+v %v", r.res, r.err)
	}
	board.waitReceived(t, "the ESC at the menu", func(got string) bool { return got != "#" })
	if got := board.received(); got != "#"+KeyEsc {
		t.Fatalf("the board got %q", got)
	}
}

// A board's traps are said where they bite: Orin's dark HDMI when the
// console starts, firmware 35.3.1's missing USB boot only once the board
// shows it runs that firmware.
func TestSessionShowsTheProfilesTraps(t *testing.T) {
	set, _ := profiles.Load(assets.Profiles(), "")
	orin, _ := set.Get("orin-nano-devkit")
	for _, c := range []struct {
		firmware string
		usbTrap  bool
	}{{"35.3.1", true}, {"36.4.3-0a1b2c3d4e5f", false}} {
		link := filepath.Join(t.TempDir(), "tty")
		board := startSocat(t, link)
		until, _ := ParseUntil(StageUEFIMenu)
		events := &eventLog{}
		con := New(Options{Port: link, Profile: orin, Until: until, Timeout: 20 * time.Second})
		done := run(con, context.Background(), events)
		events.waitFor(t, "connected", isConn(EventConnected))
		board.write(t, []byte("Jetson UEFI firmware (version "+c.firmware+" built on 1980-01-01T00:00:00+00:00)\r\nESC   to enter Setup.\r\n"))
		if r := <-done; r.err != nil || !r.res.Matched {
			t.Fatalf("%+v %v", r.res, r.err)
		}
		var hdmi, usb, beforeFirmware bool
		events.mu.Lock()
		all := append([]step.Event(nil), events.events...)
		events.mu.Unlock()
		for _, e := range all {
			if f, ok := e.(Fact); ok && f.Fact == FactFirmwareVersion {
				beforeFirmware = true
			}
			w, ok := e.(Trap)
			if !ok {
				continue
			}
			switch {
			case strings.Contains(w.Warning, "no Linux console on HDMI/DP"):
				hdmi = !beforeFirmware
			case strings.Contains(w.Warning, "35.3.1"):
				usb = beforeFirmware && strings.Contains(w.Next, "jetup flash")
			}
		}
		if !hdmi || usb != c.usbTrap {
			t.Errorf("firmware %s: hdmi trap at start %v, USB boot trap %v (want %v): %+v", c.firmware, hdmi, usb, c.usbTrap, all)
		}
	}
}
