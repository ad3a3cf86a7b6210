package tui

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// Session is what every screen shares: the chosen profile, the run record,
// the hardware, and the facts that flow forward from step to step
// (usb_instance from detect to flash, ip and hostname from console to push).
type Session struct {
	ctx    context.Context
	cancel context.CancelFunc
	tasks  sync.WaitGroup
	ended  sync.Once
	busy   atomic.Int32
	// current is the run-record attempt of the active step (nil between
	// steps): screens create their logs in it.
	current *runrec.Step

	Profile *profiles.Profile
	// Profiles are all the boards jetup knows (to name the ones that fit
	// the board on the bench).
	Profiles *profiles.Set
	Run      *runrec.Run
	Hardware hardware.Edges
	StateDir string
	Version  string
	Facts    map[string]string
	// Bench is today's bench session and Board this board's place in it
	// (1 for the first); nil and 0 when the session could not be kept.
	Bench *runrec.Bench
	Board int
	// Kits is the field kits' side of the run (nil on the simulated bench).
	Kits *FieldKits

	// carry is what this board keeps from the bench's board before it
	// (nil for the first); answers is what the person chose on this
	// board, for the next one. label is the board's label once known.
	carry   *benchCarry
	answers answers
	label   string
	// addrBusy names the board of the bench in flight at addr ("" when
	// none, or nil outside a bench): a push there waits for it.
	addrBusy func(s *Session, addr string) string
}

func newSession(b hardware.Edges, stateDir, version string) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	return &Session{ctx: ctx, cancel: cancel, Hardware: b, StateDir: stateDir, Version: version, Facts: map[string]string{}}
}

// Step is the active step's attempt in the run record, for its logs; nil
// when no run record could be written.
func (s *Session) Step() *runrec.Step { return s.current }

// SetFact records a fact for later steps and in the run record.
func (s *Session) SetFact(key, value string) {
	if value == "" {
		delete(s.Facts, key)
	} else {
		s.Facts[key] = value
	}
	if s.Run != nil {
		_ = s.Run.SetFact(key, value)
	}
}

// TaskFunc is a domain step run from the TUI: it reports through sink and
// must return when ctx ends.
type TaskFunc func(ctx context.Context, sink step.Sink) (any, error)

// Task is a domain step running in the background. Its events arrive as
// TaskEventMsg, its end as TaskDoneMsg; a screen keeps listening by
// returning task.Next() after each event.
type Task struct {
	events chan step.Event
	done   chan TaskDoneMsg
	cancel context.CancelFunc
	// ended is closed once fn has returned, even when nobody reads the
	// TaskDoneMsg any more (its screen was left).
	ended chan struct{}
}

// TaskEventMsg carries one event of a task.
type TaskEventMsg struct {
	Task  *Task
	Event step.Event
}

// TaskDoneMsg says a task ended, with its result or error.
type TaskDoneMsg struct {
	Task   *Task
	Result any
	Err    error
}

// Start runs fn in the background and returns the task and the command that
// delivers its first message. Quitting the wizard cancels every task's
// context and waits for it to return, so child processes are ended and
// devices released before jetup exits.
func (s *Session) Start(fn TaskFunc) (*Task, tea.Cmd) { return s.start(fn, true) }

// StartWatch runs fn like Start, for a task that only waits for hardware
// (detect watching the USB bus): it is no work in progress, so esc and q
// leave without asking to stop it. It is still cancelled and waited for
// when the wizard ends.
func (s *Session) StartWatch(fn TaskFunc) (*Task, tea.Cmd) { return s.start(fn, false) }

func (s *Session) start(fn TaskFunc, busy bool) (*Task, tea.Cmd) {
	ctx, cancel := context.WithCancel(s.ctx)
	t := &Task{events: make(chan step.Event, 256), done: make(chan TaskDoneMsg, 1), cancel: cancel, ended: make(chan struct{})}
	s.tasks.Add(1)
	if busy {
		s.busy.Add(1)
	}
	go func() {
		defer s.tasks.Done()
		if busy {
			defer s.busy.Add(-1)
		}
		defer cancel()
		res, err := fn(ctx, step.SinkFunc(func(e step.Event) {
			select {
			case t.events <- e:
			case <-ctx.Done():
			}
		}))
		close(t.ended)
		t.done <- TaskDoneMsg{Task: t, Result: res, Err: err}
	}()
	return t, t.Next()
}

// Next waits for the task's next event, or its end once all events are read.
func (t *Task) Next() tea.Cmd {
	return func() tea.Msg {
		select {
		case e := <-t.events:
			return TaskEventMsg{Task: t, Event: e}
		case d := <-t.done:
			// Deliver events sent before the end first.
			select {
			case e := <-t.events:
				t.done <- d
				return TaskEventMsg{Task: t, Event: e}
			default:
			}
			return d
		}
	}
}

// Cancel asks the task to stop; its TaskDoneMsg still arrives.
func (t *Task) Cancel() { t.cancel() }

// Busy reports whether any task is running.
func (s *Session) Busy() bool { return s.busy.Load() > 0 }

// end cancels every task, waits for them to return (so their child
// processes are gone and their devices closed) and closes the run record
// with outcome. Only the first call counts.
func (s *Session) end(outcome runrec.Outcome) {
	s.ended.Do(func() {
		s.stopTasks()
		if s.Run != nil {
			_ = s.Run.Close(outcome)
		}
	})
}

// stop ends a board's session whose run record is closed already (the
// bench went on to the next board): every task is cancelled and waited
// for.
func (s *Session) stop() { s.ended.Do(s.stopTasks) }

func (s *Session) stopTasks() {
	s.cancel()
	s.tasks.Wait()
}

// busyAt names the board of the bench in flight at addr, "" when none.
func (s *Session) busyAt(addr string) string {
	if s.addrBusy == nil {
		return ""
	}
	return s.addrBusy(s, addr)
}

// knownHosts is the file of the host keys pinned for this board. Pins
// belong to the board, not to its address: every board of a bench comes
// up at the same address (192.168.55.1 over the USB gadget) with a key of
// its own, so each run keeps its own known_hosts in its run directory,
// vouched for by its own console (or the person). Without a run record
// the address's pins in the state dir are used.
func (s *Session) knownHosts() string {
	if s.Run != nil {
		return filepath.Join(s.Run.Dir(), "known_hosts")
	}
	return remote.KnownHostsPath(s.StateDir, s.Hardware.Sim)
}

// freshBoard forgets what vouched for the board's last system: it was
// flashed or its disk written again, and comes up with a new host key.
// Its own console vouches for the new one.
func (s *Session) freshBoard() {
	if s.Run != nil {
		_ = os.Remove(filepath.Join(s.Run.Dir(), "known_hosts"))
	}
	s.SetFact(step.FactHostKey, "")
}
