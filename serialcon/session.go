package serialcon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Options for a console session.
type Options struct {
	// Ports lists and opens serial ports (System, or the simulated bench).
	Ports Ports
	// Profile ranks the ports when Port is empty.
	Profile *profiles.Profile
	// Port is the port to open; "" picks the best-ranked one for Profile.
	Port   string
	Config Config
	// Until stops the session when matched; nil runs until ctx ends.
	Until *Until
	// Send is written once, when the port is first open, or when the boot
	// reaches SendAt if that is set (ESC at "uefi-menu" stops in the
	// firmware's menu).
	Send   []byte
	SendAt string
	// Timeout ends the session; 0 means none.
	Timeout time.Duration
	// RawLog gets every byte as it came; TextLog one timestamped line per
	// line, with jetup's marks at each connect and disconnect.
	RawLog  io.Writer
	TextLog io.Writer
	// NoReconnect ends the session when the device goes away instead of
	// waiting for it to come back.
	NoReconnect bool
	// Poll is how often a missing port is looked for (default 250 ms).
	Poll time.Duration
	// Batch is the output interval (default about 1/30 s).
	Batch time.Duration
}

// Result is what a session did; it is stored as the console step's details
// in the run record.
type Result struct {
	Port        string       `json:"port"`
	Why         string       `json:"why,omitempty"`
	Config      string       `json:"config"`
	Bytes       int64        `json:"bytes"`
	Reconnects  int          `json:"reconnects"`
	Connections []Connection `json:"connections,omitempty"`
	Until       string       `json:"until,omitempty"`
	Matched     bool         `json:"matched"`
	MatchedLine string       `json:"matched_line,omitempty"`
	// NotShown counts bytes the face missed because it fell behind (the
	// logs have them).
	NotShown int64 `json:"not_shown,omitempty"`
	Summary
}

// ErrNotConnected is returned by Send while no port is open.
var ErrNotConnected = errors.New("the console is not connected")

// Console is a session with one board's serial console: it finds the port,
// keeps it open across unplugs, logs every byte, recognises the boot and
// takes input to send.
type Console struct {
	opt Options

	mu     sync.Mutex
	dev    Device
	name   string
	writes chan []byte
	bytes  int64

	res     Result
	em      *emitter
	cook    *cooker
	watch   *Watcher
	text    *textLog
	logged  string // the partial line already written to the text log
	matched bool
	// matchedBefore is set once the line that matched --until is done.
	matchedBefore bool
	sentAt        bool // Send went out at SendAt
	queued        atomic.Int32
	trapped       map[string]bool // the profile's traps already shown
}

// trap shows one of the profile's traps once.
func (c *Console) trap(t profiles.Trap) {
	if c.trapped[t.ID] {
		return
	}
	c.trapped[t.ID] = true
	c.em.event(Trap{Trap: t.ID, Warning: t.Text, Next: t.Next, At: time.Now().UTC()})
}

// New prepares a session; Run runs it.
func New(o Options) *Console {
	if o.Ports == nil {
		o.Ports = System{}
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	return &Console{opt: o, writes: make(chan []byte, 256)}
}

// Send queues p to be written to the board. It fails when no port is open;
// while the port is open it never blocks (a board that does not read only
// delays its own input).
func (c *Console) Send(p []byte) error {
	c.mu.Lock()
	connected := c.dev != nil
	c.mu.Unlock()
	if !connected {
		return ErrNotConnected
	}
	if !c.enqueue(append([]byte(nil), p...)) {
		return errors.New("the board is not taking input: too much is queued")
	}
	return nil
}

// enqueue hands p to the writer without waiting.
func (c *Console) enqueue(p []byte) bool {
	c.queued.Add(1)
	select {
	case c.writes <- p:
		return true
	default:
		c.queued.Add(-1)
		return false
	}
}

// drainWrites gives the writer a moment to finish what is queued before
// the port closes (a --send-at key and an --until on the same stage).
func (c *Console) drainWrites() {
	for deadline := time.Now().Add(2 * time.Second); c.queued.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// Port is the name of the open port ("" while none is).
func (c *Console) Port() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// Run runs the session until Until matches (nil error), the timeout ends it
// (an error with exit code 1 when Timeout ends it before Until matched, or
// at all when no Until was given), the
// port cannot be opened (exit code 2) or ctx is cancelled (ctx's error).
func (c *Console) Run(ctx context.Context, sink step.Sink) (Result, error) {
	parent := ctx
	if c.opt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opt.Timeout)
		defer cancel()
	}
	c.res = Result{Config: c.opt.Config.String(), Until: c.opt.Until.String()}
	if be, ok := c.opt.Ports.(BoardExpecter); ok && c.opt.Profile != nil {
		be.ExpectBoard(c.opt.Profile)
	}
	c.em = newEmitter(sink, c.opt.Batch)
	// The board's known traps at the console (Orin's dark HDMI) are said
	// before the wait for its output starts.
	c.trapped = map[string]bool{}
	for _, t := range c.opt.Profile.TrapsAt(step.Console) {
		c.trap(t)
	}
	c.text = newTextLog(c.opt.TextLog)
	c.watch = NewWatcher(c.recognised)
	c.cook = newCooker(c.lineDone)
	writerDone := make(chan struct{})
	wctx, stopWriter := context.WithCancel(ctx)
	go func() { defer close(writerDone); c.writer(wctx) }()
	defer func() {
		stopWriter()
		<-writerDone
		c.em.close()
		c.text.flush()
	}()

	err := c.session(ctx)
	c.res.NotShown = c.em.Dropped()
	c.res.Bytes = c.bytes
	switch {
	case err != nil && !isCtxErr(err):
		return c.res, err
	case c.matched:
		return c.res, nil
	case parent.Err() != nil:
		return c.res, parent.Err()
	case ctx.Err() != nil && c.opt.Until != nil:
		return c.res, &step.Error{Cause: string(CauseUntilTimeout), Code: step.ExitFailed,
			What: fmt.Sprintf("--until %s was not seen within %s", c.opt.Until, c.opt.Timeout),
			Next: "look at the console log for where the boot stopped; give more --timeout if it was still going"}
	case ctx.Err() != nil && c.opt.Timeout > 0:
		// The interface says 1 on timeout: a timed capture ends that way too.
		return c.res, &step.Error{Cause: string(CauseTimeout), Code: step.ExitFailed,
			What: fmt.Sprintf("--timeout %s reached", c.opt.Timeout),
			Next: "to stop at a boot stage and exit 0, add --until STAGE|REGEX"}
	}
	return c.res, nil
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// idleAfter is how long the board must be quiet after an unfinished line
// before it is taken as a prompt waiting for input.
const idleAfter = 150 * time.Millisecond

// partialAfter is how long an unfinished line waits before it is written to
// the text log anyway (a prompt should show up in `tail -f`).
const partialAfter = time.Second

// read reads dev until ctx ends or Until matches (nil) or the device goes
// away (the reason).
func (c *Console) read(ctx context.Context, dev Device) error {
	buf := make([]byte, 64*1024)
	last := time.Now()
	idleDone, lastFlush := true, last
	for ctx.Err() == nil && !c.matched {
		n, err := dev.Read(buf)
		now := time.Now()
		if n > 0 {
			c.data(buf[:n], now)
			last, idleDone = now, false
		}
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return nil
			}
			return err
		}
		if n == 0 {
			if quiet := now.Sub(last); !idleDone && quiet >= idleAfter {
				c.watch.Idle(c.cook.partial(), c.cook.partialStart())
				c.matchedBefore = c.matched
				idleDone = true
			} else if quiet >= partialAfter {
				if p := c.cook.partial(); p != "" && p != c.logged {
					c.text.line(c.cook.partialStart(), p)
					c.logged = p
				}
			}
		}
		if now.Sub(lastFlush) >= 100*time.Millisecond {
			c.text.flush()
			lastFlush = now
		}
	}
	return nil
}

// data handles bytes from the board: logs, the face, the recogniser.
func (c *Console) data(p []byte, now time.Time) {
	c.bytes += int64(len(p))
	if c.opt.RawLog != nil {
		_, _ = c.opt.RawLog.Write(p)
	}
	c.em.output(p, now)
	c.cook.feed(p, now)
	if c.opt.Until != nil && c.opt.Until.Re != nil && !c.matched {
		if part := c.cook.partial(); part != "" && c.opt.Until.matchLine(part) {
			c.match(part)
		}
	}
}

// lineDone gets each finished line from the cooker.
func (c *Console) lineDone(line string, at time.Time) {
	if line != c.logged {
		c.text.line(at, line)
	}
	c.logged = ""
	c.watch.Line(line, at)
	if !c.matched && c.opt.Until.matchLine(line) {
		c.match(line)
	}
	c.matchedBefore = c.matched
}

// recognised gets each stage and fact from the watcher. Once --until has
// matched the session is over: the rest of that read is logged, but only the
// facts of the matching line itself are reported, not the stages after it.
func (c *Console) recognised(e any) {
	if c.matchedBefore {
		return
	}
	c.res.Summary.add(e)
	if ev, ok := e.(step.Event); ok {
		c.em.event(ev)
	}
	// A trap of the firmware the board turns out to run (35.3.1 and USB
	// boot) bites now.
	if f, ok := e.(Fact); ok && f.Fact == FactFirmwareVersion {
		for _, t := range c.opt.Profile.TrapsForFirmware(step.Console, f.Value) {
			c.trap(t)
		}
	}
	st, ok := e.(Stage)
	if !ok {
		return
	}
	if c.opt.SendAt == st.Stage && len(c.opt.Send) > 0 && !c.sentAt {
		c.sentAt = true
		c.enqueue(c.opt.Send)
	}
	if !c.matched && c.opt.Until.matchStage(st.Stage) {
		c.match(st.Line)
	}
}

func (c *Console) match(line string) {
	c.matched = true
	c.res.Matched = true
	c.res.MatchedLine = clip(line)
}

// writer writes queued input to whichever device is open. Large pastes go
// in small pieces: EDK2 keeps only a short key queue.
func (c *Console) writer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-c.writes:
			c.write(ctx, p)
			c.queued.Add(-1)
		}
	}
}

// write writes one queued input to the open device, in small pieces.
func (c *Console) write(ctx context.Context, p []byte) {
	for len(p) > 0 {
		n := min(len(p), 16)
		c.mu.Lock()
		dev := c.dev
		c.mu.Unlock()
		if dev == nil {
			return
		}
		if _, err := dev.Write(p[:n]); err != nil {
			return
		}
		p = p[n:]
		if len(p) > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}
