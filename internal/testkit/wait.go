package testkit

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Changes lets a test wait on state that other goroutines change (events
// collected, output read), without polling: whoever changes the state
// calls Changed, and Wait checks its condition again at each change.
// The zero value is ready to use.
type Changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// Changed wakes every Wait to check its condition again.
func (c *Changes) Changed() {
	c.mu.Lock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
	c.mu.Unlock()
}

func (c *Changes) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Wait returns once ok() holds. bound is only a guard against a test that
// would hang: when it passes, the test fails saying it waited for what.
func (c *Changes) Wait(t testing.TB, bound time.Duration, what string, ok func() bool) {
	t.Helper()
	if !c.WaitUntil(bound, ok) {
		t.Fatalf("waited %v for %s", bound, what)
	}
}

// WaitUntil is Wait that reports instead of failing the test.
func (c *Changes) WaitUntil(bound time.Duration, ok func() bool) bool {
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		changed := c.next() // before the check, so no change is missed
		if ok() {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return ok()
		}
	}
}

// Clock stands in for time.After in code whose waits a test must end at
// the right event rather than after a time: each wait is asked for by
// name, and ends when the test fires that name (before or after the wait
// was asked for). A wait nobody fires ends after Bound (2 minutes by
// default) and fails the test, naming it.
type Clock struct {
	t     testing.TB
	Bound time.Duration

	mu    sync.Mutex
	fired map[string]chan struct{}
	done  chan struct{}
}

// NewClock makes a clock that stops its guards when the test ends.
func NewClock(t testing.TB) *Clock {
	c := &Clock{t: t, Bound: 2 * time.Minute, fired: map[string]chan struct{}{}, done: make(chan struct{})}
	t.Cleanup(func() { close(c.done) })
	return c
}

func (c *Clock) name(n string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.fired[n]
	if !ok {
		ch = make(chan struct{})
		c.fired[n] = ch
	}
	return ch
}

// Fire ends every wait of that name, now and to come.
func (c *Clock) Fire(name string) {
	ch := c.name(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// After is the stand-in for time.After: it ends when name is fired.
func (c *Clock) After(name string, _ time.Duration) <-chan time.Time {
	fired := c.name(name)
	out := make(chan time.Time, 1)
	go func() {
		guard := time.NewTimer(c.Bound)
		defer guard.Stop()
		select {
		case <-fired:
		case <-c.done:
			return
		case <-guard.C:
			c.t.Errorf("the wait %q was never ended by the test within %v", name, c.Bound)
		}
		out <- time.Now()
	}()
	return out
}

// WaitGone waits until none of pids is running (each watched through a
// pidfd, so the wait ends at the exit itself), at most bound; it returns
// those still running then.
func WaitGone(pids []int, bound time.Duration) []int {
	deadline := time.Now().Add(bound)
	var left []int
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already
		}
		for {
			ms := int(time.Until(deadline).Milliseconds())
			if ms < 0 {
				ms = 0
			}
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
			if err == unix.EINTR {
				continue
			}
			if n == 0 && err == nil {
				left = append(left, pid)
			}
			break
		}
		unix.Close(fd)
	}
	return left
}
