package sim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

// Board is a simulated board on its debug console: a real pseudo-terminal
// whose far end the board writes its boot to, at the pace of a 115200-baud
// line and with the pauses of a real boot. Like a technician who connects
// the console and then presses power, it starts booting when a program
// first opens the port. It echoes what it is sent (a shell's line
// discipline does), can be unplugged (the pty's master is closed, the port's
// name disappears) and plugged back (a new pty behind the same name), and
// keeps booting while unplugged, so what it printed then is lost, as it
// would be.
type Board struct {
	opt  BoardOptions
	link string

	mu      sync.Mutex
	master  *os.File
	pts     string // the slave's name, kept after an unplug (MasterHolders)
	plugged bool
	sent    bytes.Buffer // what reached a plugged port
	input   bytes.Buffer // what the console sent the board
	// inEscape is where the echo is in an escape sequence the console sent
	// (1 after ESC, 2 inside ESC [ or ESC O).
	inEscape int
	atLine   bool   // the board sits at its shell prompt
	line     []byte // what has been typed at the prompt since the last Enter
	closed   chan struct{}
	power    chan struct{}
	powered  bool
	wg       sync.WaitGroup

	// The console's first open: serialcon holds the node open before it
	// sets the port up and flushes its input, so a board that started
	// printing when the node was first held would lose its first lines on
	// a busy machine. opening counts Opens through the board in progress;
	// opened is closed when the first one returned; openWait is closed
	// when the boot waits for one to finish (for the tests).
	openPort   func(path string, cfg serialcon.Config) (serialcon.Device, error)
	opening    int
	wasOpened  bool
	opened     chan struct{}
	openWait   chan struct{}
	openWaitMu sync.Once

	// hold is the script line the board stops before (HoldAt); -1 for none.
	hold    int
	held    chan struct{} // closed once the board waits at hold
	release chan struct{} // closed by Release
	once    sync.Once
}

// BoardOptions configure a Board.
type BoardOptions struct {
	// Dir holds the port's stable name (like /dev/serial/by-id); a new
	// directory in the simulated bench's work directory when empty.
	Dir string
	// Script is what the board prints; BootFor(nil) when nil.
	Script []BootLine
	// Speed scales time: 1 is real time, 50 boots fifty times faster.
	Speed float64
	// Baud paces the bytes (115200 when 0).
	Baud int
	// Port describes the USB bridge the port is listed as.
	Port serialcon.PortInfo
	// HostKeys are the board's SSH host keys (/etc/ssh/ssh_host_*_key.pub),
	// whose fingerprints its shell prints for ssh-keygen -lf; the simulated
	// push target's key (PushBoard.HostKey) when nil.
	HostKeys []ssh.PublicKey
	// SerialNumber is the module's serial number in its device tree
	// (SimSerialNumber(1) when empty).
	SerialNumber string
	// HoldAt, a console stage id (serialcon.StageLogin, StageShell, ...),
	// stops the board just before the line that would show that stage, as
	// the console's own watcher recognises it, until Release: a test that
	// needs the board at an earlier stage waits on Held, not on the clock.
	// Empty: the board boots straight through.
	HoldAt string
}

// usbTTLAdapter is what the simulated console is listed as: a CP2102
// USB-TTL adapter, the kind the Orin Nano/NX and Xavier NX devkits need.
var usbTTLAdapter = serialcon.PortInfo{USB: true, VID: "10c4", PID: "ea60", Manufacturer: "Silicon Labs",
	Product: "CP2102 USB to UART Bridge Controller", Serial: "0001", Interface: 0, Driver: "cp210x"}

// NewBoard makes a board and plugs in its console.
func NewBoard(o BoardOptions) (*Board, error) {
	if o.Script == nil {
		o.Script = BootFor(nil)
	}
	if o.Speed <= 0 {
		o.Speed = 1
	}
	if o.Baud == 0 {
		o.Baud = 115200
	}
	if o.SerialNumber == "" {
		o.SerialNumber = SimSerialNumber(1)
	}
	if o.HostKeys == nil {
		o.HostKeys = []ssh.PublicKey{simHostKey()}
	}
	if !o.Port.USB {
		o.Port = usbTTLAdapter
	}
	if o.Dir == "" {
		base, err := workDir()
		if err != nil {
			return nil, err
		}
		if o.Dir, err = os.MkdirTemp(base, "serial-"); err != nil {
			return nil, err
		}
	}
	b := &Board{opt: o, closed: make(chan struct{}), power: make(chan struct{}), hold: -1,
		held: make(chan struct{}), release: make(chan struct{}),
		openPort: serialcon.System{}.Open, opened: make(chan struct{}), openWait: make(chan struct{})}
	if o.HoldAt != "" {
		i, err := stageLine(o.Script, o.HoldAt)
		if err != nil {
			return nil, err
		}
		b.hold = i
	}
	b.link = filepath.Join(o.Dir, "usb-Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0001-if00-port0")
	if err := b.Replug(); err != nil {
		return nil, err
	}
	b.wg.Add(2)
	go b.play()
	go b.echo()
	return b, nil
}

// stageLine is the index of the first script line after which the console
// watcher has seen stage: what the board prints up to it, scanned as
// serialcon scans a saved log (a prompt without a newline counts when the
// board stops after it).
func stageLine(script []BootLine, stage string) (int, error) {
	if !serialcon.IsStage(stage) {
		return 0, fmt.Errorf("simulated board: HoldAt %q is not a console stage (%s)", stage, strings.Join(serialcon.Stages, ", "))
	}
	var printed []byte
	for i, l := range script {
		printed = append(printed, lineBytes(l)...)
		sum, _, _ := serialcon.Scan(bytes.NewReader(printed), nil, step.Discard)
		for _, s := range sum.Stages {
			if s.Stage == stage {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("simulated board: its script never reaches stage %q, so it cannot hold there", stage)
}

// lineBytes is what the board sends for a script line: the text and a
// newline, or the raw text after a leading NUL (a prompt, a countdown dot).
func lineBytes(l BootLine) []byte {
	if raw, ok := strings.CutPrefix(l.Text, "\x00"); ok {
		return []byte(raw)
	}
	return []byte(l.Text + "\r\n")
}

// Held is closed once a board with HoldAt has printed everything before
// that stage and waits for Release.
func (b *Board) Held() <-chan struct{} { return b.held }

// Release lets a board held by HoldAt boot on. It may be called at any
// time, before the board reaches the hold too, and more than once.
func (b *Board) Release() { b.once.Do(func() { close(b.release) }) }

// Path is the port's stable name.
func (b *Board) Path() string { return b.link }

// Replug plugs the console in: a new pty appears under the same name.
func (b *Board) Replug() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.plugged {
		return nil
	}
	master, slave, err := pty.Open()
	if err != nil {
		return fmt.Errorf("simulated console: %w", err)
	}
	name := slave.Name()
	// Raw from the start, as socat's "raw,echo=0" and a USB serial
	// adapter are: a fresh pty is in cooked mode, and what the board sends
	// before jetup opens the port would be translated and echoed.
	if err := makeRaw(slave); err != nil {
		master.Close()
		slave.Close()
		return fmt.Errorf("simulated console: %w", err)
	}
	// The board's side only has the master: with the slave closed, the pty
	// reports a hang-up until a program opens the port.
	slave.Close()
	if master, err = pollable(master); err != nil {
		return fmt.Errorf("simulated console: %w", err)
	}
	tmp := b.link + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(name, tmp); err != nil {
		master.Close()
		return err
	}
	if err := os.Rename(tmp, b.link); err != nil {
		master.Close()
		return err
	}
	b.master, b.plugged, b.pts = master, true, name
	return nil
}

func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// pollable gives the pty master back in non-blocking mode (creack/pty
// leaves it blocking), so reads and writes take deadlines and Close ends a
// read in progress: otherwise an unplug would wait for the echo reader.
// The copy is close-on-exec like the original: a plain dup would hand the
// master to every program this process starts (an sshd, an ssh), which
// would keep the pty alive after an unplug, so the open port would never
// read as gone.
func pollable(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}

// Unplug pulls the console's cable: the open port reads as gone and its
// name disappears.
func (b *Board) Unplug() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unplugLocked()
}

func (b *Board) unplugLocked() {
	if !b.plugged {
		return
	}
	_ = os.Remove(b.link)
	b.master.Close()
	b.plugged = false
}

// Close unplugs the board and stops it.
func (b *Board) Close() {
	select {
	case <-b.closed:
		return
	default:
	}
	close(b.closed)
	b.Unplug()
	b.wg.Wait()
}

// Sent is every byte that reached a plugged port.
func (b *Board) Sent() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.sent.Bytes()...)
}

// Input is everything the console has sent the board.
func (b *Board) Input() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.input.Bytes()...)
}

// Powered reports whether the board has started booting.
func (b *Board) Powered() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.powered
}

// List is the host's serial ports as the bench shows them: this board's
// console while it is plugged in.
func (b *Board) List() ([]serialcon.PortInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.plugged {
		return nil, nil
	}
	p := b.opt.Port
	p.ByID = b.link
	p.Path, _ = os.Readlink(b.link)
	return []serialcon.PortInfo{p}, nil
}

// Open opens the port with the real serial code. The board powers on
// once the first such open has returned, the input already flushed, not
// when the node is first held open (waitOpen).
func (b *Board) Open(path string, cfg serialcon.Config) (serialcon.Device, error) {
	b.mu.Lock()
	b.opening++
	b.mu.Unlock()
	dev, err := b.openPort(path, cfg)
	b.mu.Lock()
	b.opening--
	if err == nil && !b.wasOpened {
		b.wasOpened = true
		close(b.opened)
	}
	b.mu.Unlock()
	return dev, err
}

// waitOpen waits until a program has the port open: the technician
// connected the console. Through Open, that is when Open returned; a
// program that opens the node itself is seen by the master no longer
// reporting a hang-up.
func (b *Board) waitOpen() bool {
	for {
		b.mu.Lock()
		open := b.plugged && slaveOpen(b.master)
		opening, opened := b.opening > 0, b.wasOpened
		b.mu.Unlock()
		if opened || (open && !opening) {
			return true
		}
		wake := b.opened
		if !open {
			wake = nil // nobody has the node yet: look again
		} else {
			b.openWaitMu.Do(func() { close(b.openWait) })
		}
		select {
		case <-b.closed:
			return false
		case <-wake:
			return true
		case <-time.After(50 * time.Millisecond): // polling the pty: it has no open event
		}
	}
}

func slaveOpen(master *os.File) bool {
	rc, err := master.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	_ = rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 0); err == nil {
			open = fds[0].Revents&unix.POLLHUP == 0
		}
	})
	return open
}

// play prints the script once the port is first opened.
func (b *Board) play() {
	defer b.wg.Done()
	if !b.waitOpen() {
		return
	}
	b.mu.Lock()
	b.powered = true
	b.mu.Unlock()
	// A moment for the person to press power.
	if !b.sleep(300 * time.Millisecond) {
		return
	}
	for i, l := range b.opt.Script {
		if i == b.hold && !b.waitRelease() {
			return
		}
		if !b.sleep(l.After) {
			return
		}
		if i == len(b.opt.Script)-1 {
			b.mu.Lock()
			b.atLine = true
			b.mu.Unlock()
		}
		if !b.send(lineBytes(l)) {
			return
		}
	}
}

// waitRelease holds the boot (HoldAt) until Release; false once the board
// is closed.
func (b *Board) waitRelease() bool {
	close(b.held)
	select {
	case <-b.release:
		return true
	case <-b.closed:
		return false
	}
}

// sleep waits d scaled by the speed; false once the board is closed.
func (b *Board) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-b.closed:
		return false
	case <-time.After(time.Duration(float64(d) / b.opt.Speed)):
		return true
	}
}

// send writes p at the line's byte rate; while unplugged the bytes are
// lost, and a port nobody reads drops them after a second rather than
// stalling the board.
func (b *Board) send(p []byte) bool {
	perByte := 10 * time.Second / time.Duration(b.opt.Baud) // 8N1: ten bits a byte
	for len(p) > 0 {
		n := min(len(p), 64)
		b.mu.Lock()
		if b.plugged {
			_ = b.master.SetWriteDeadline(time.Now().Add(time.Second))
			w, _ := b.master.Write(p[:n])
			b.sent.Write(p[:w])
		}
		b.mu.Unlock()
		p = p[n:]
		if !b.sleep(time.Duration(n) * perByte) {
			return false
		}
	}
	return true
}

// echo answers input as a shell's line discipline would: printable keys
// come back, Enter starts a new line (with a new prompt once the board is at
// its shell), backspace rubs out. At the shell prompt, Enter also runs the
// line (shell.go); before it, what is typed goes nowhere.
func (b *Board) echo() {
	defer b.wg.Done()
	buf := make([]byte, 256)
	for {
		b.mu.Lock()
		m, plugged := b.master, b.plugged
		b.mu.Unlock()
		if !plugged {
			select {
			case <-b.closed:
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		_ = m.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := m.Read(buf)
		if n > 0 {
			b.answer(buf[:n])
		}
		select {
		case <-b.closed:
			return
		default:
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// EIO while no program has the port open: wait for one.
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (b *Board) answer(in []byte) {
	b.mu.Lock()
	b.input.Write(in)
	b.mu.Unlock()
	var out []byte
	for _, c := range in {
		// Keys that arrive as escape sequences (arrows, F11) move a line
		// editor's cursor; they are not echoed as text.
		switch {
		case c == 0x1b:
			b.inEscape = 1
			continue
		case b.inEscape == 1 && (c == '[' || c == 'O'):
			b.inEscape = 2
			continue
		case b.inEscape == 2 && c >= 0x20 && c < 0x40:
			continue
		case b.inEscape > 0:
			b.inEscape = 0
			continue
		}
		switch {
		case c == '\r' || c == '\n':
			out = append(out, '\r', '\n')
			b.mu.Lock()
			prompt := b.atLine
			b.mu.Unlock()
			if prompt {
				out = append(out, b.run(string(b.line))...)
				out = append(out, shellPrompt...)
			}
			b.line = b.line[:0]
		case c == 0x7f || c == '\b':
			out = append(out, '\b', ' ', '\b')
			if len(b.line) > 0 {
				b.line = b.line[:len(b.line)-1]
			}
		case c == 0x15: // ctrl+u: readline rubs the line out
			for range b.line {
				out = append(out, '\b', ' ', '\b')
			}
			b.line = b.line[:0]
		case c == 0x03: // ctrl+c: bash drops the line for a new prompt
			b.mu.Lock()
			prompt := b.atLine
			b.mu.Unlock()
			if prompt {
				out = append(out, "^C\r\n"+shellPrompt...)
			}
			b.line = b.line[:0]
		case c >= 0x20 && c != 0x7f:
			out = append(out, c)
			b.line = append(b.line, c)
		}
	}
	if len(out) > 0 {
		b.send(out)
	}
}

// SerialBench is the simulated bench's serial ports: one board booting
// NixOS, made when a console first looks for a port. JETUP_SIM_SPEED
// speeds its boot up (the demo runs it in real time, about 45 s).
type SerialBench struct {
	// HostKeys are the board's SSH host keys (BoardOptions.HostKeys).
	HostKeys []ssh.PublicKey

	board   *Board
	boards  int // boards taken off the bench before this one
	err     error
	mu      sync.Mutex
	profile *profiles.Profile
}

// ExpectBoard is told which board the console is for before it looks for
// a port: the simulated board then boots as that board (BootFor). Once
// the board is made it stays the one it is.
func (s *SerialBench) ExpectBoard(p *profiles.Profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.profile == nil {
		s.profile = p
	}
}

func (s *SerialBench) get() (*Board, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.board == nil && s.err == nil {
		s.board, s.err = NewBoard(BoardOptions{Speed: Speed(), HostKeys: s.HostKeys, Script: BootFor(s.profile), SerialNumber: SimSerialNumber(s.boards + 1)})
	}
	return s.board, s.err
}

// NextBoard takes the board off the bench and readies the next one, with
// hostKeys: its console boots from the start when jetup next looks for
// the port.
func (s *SerialBench) NextBoard(hostKeys []ssh.PublicKey) {
	s.mu.Lock()
	old := s.board
	s.board, s.err, s.HostKeys = nil, nil, hostKeys
	s.boards++
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// List is the board's console port.
func (s *SerialBench) List() ([]serialcon.PortInfo, error) {
	b, err := s.get()
	if err != nil {
		return nil, err
	}
	return b.List()
}

// Open opens a port with the real serial code.
func (s *SerialBench) Open(path string, cfg serialcon.Config) (serialcon.Device, error) {
	return serialcon.System{}.Open(path, cfg)
}

// Board is the simulated board (made on first use).
func (s *SerialBench) Board() (*Board, error) { return s.get() }

// UnplugWhen pulls the cable at the first moment ready(sent) holds, sent
// being how many bytes have reached the port so far (a test unplugs once its
// reader has everything, so it can check that no byte went missing).
func (b *Board) UnplugWhen(ready func(sent int) bool) {
	for {
		b.mu.Lock()
		if ready(b.sent.Len()) {
			b.unplugLocked()
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

// SimSerialNumber is board n's module serial number on the simulated
// bench: thirteen digits, as a Jetson module's device tree gives it.
func SimSerialNumber(n int) string { return fmt.Sprintf("1424%09d", 21000+n) }
