package testboard

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Relay forwards TCP connections from a local port to target, holding
// every chunk for delay in each direction: added latency without a limit
// on bandwidth. It stands in for `tc qdisc add ... netem delay`, which
// this kernel lacks (CONFIG_NET_SCH_NETEM is not set). It returns the
// address to dial and stops when the test ends.
func Relay(t testing.TB, target string, delay time.Duration) string {
	t.Helper()
	return NewLink(t, target, LinkOptions{Delay: delay}).Addr
}

// LinkOptions shape a Link.
type LinkOptions struct {
	// Delay holds every chunk this long in each direction.
	Delay time.Duration
	// HoldAfter, when > 0, stops the first connection that has carried
	// this many bytes towards the target: what comes after waits in the
	// relay until Release, and Held is closed. A test cuts a copy at a
	// byte it chose, whatever the machine's speed: the copy cannot end
	// while the link holds it.
	HoldAfter int64
}

// Link is a relay between the test's client and a target (the board's
// sshd).
type Link struct {
	Addr string // the address to dial

	opt      LinkOptions
	held     chan struct{}
	release  chan struct{}
	holdOnce sync.Once
	relOnce  sync.Once

	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool

	toTarget atomic.Int64 // bytes carried towards the target
}

// BytesToTarget is how many bytes the link carried towards the target
// (the client's side sent), over all its connections: what a benchmark
// counts as sent.
func (l *Link) BytesToTarget() int64 { return l.toTarget.Load() }

// NewLink starts a relay to target; it stops (and releases a hold) when
// the test ends.
func NewLink(t testing.TB, target string, o LinkOptions) *Link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Link{Addr: ln.Addr().String(), opt: o, held: make(chan struct{}), release: make(chan struct{}), ln: ln}
	t.Cleanup(func() { ln.Close(); l.Release() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !l.track(c) {
				c.Close()
				continue
			}
			go l.relayConn(c, target)
		}
	}()
	return l
}

// track keeps c to close on Cut; false once the link is cut.
func (l *Link) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return false
	}
	l.conns = append(l.conns, c)
	return true
}

// Cut cuts the link for good, as a pulled cable or a dead radio would:
// every connection through it ends and no new one gets through.
func (l *Link) Cut() {
	l.mu.Lock()
	l.cut = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	l.ln.Close()
	for _, c := range conns {
		c.Close()
	}
}

// Held is closed once a connection has carried HoldAfter bytes towards the
// target and waits for Release.
func (l *Link) Held() <-chan struct{} { return l.held }

// Release lets the held bytes go on (to a closed connection, if the test
// cut it meanwhile).
func (l *Link) Release() { l.relOnce.Do(func() { close(l.release) }) }

func (l *Link) relayConn(client net.Conn, target string) {
	upstream, err := net.Dial("tcp", target)
	if err != nil || !l.track(upstream) {
		client.Close()
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	go func() { l.copy(upstream, client, l.opt.HoldAfter, &l.toTarget); done <- struct{}{} }()
	go func() { l.copy(client, upstream, 0, nil); done <- struct{}{} }()
	<-done
	<-done
	client.Close()
	upstream.Close()
}

type chunk struct {
	due  time.Time
	data []byte
}

// copy copies src to dst, each chunk written Delay after it was read, in
// order; with holdAfter > 0 it stops after that many bytes if no other
// connection held first.
func (l *Link) copy(dst, src net.Conn, holdAfter int64, count *atomic.Int64) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 64*1024)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(l.opt.Delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	sent := int64(0)
	for c := range q {
		time.Sleep(time.Until(c.due)) // the latency this relay exists to add
		data := c.data
		if holdAfter > 0 && sent+int64(len(data)) >= holdAfter {
			before := data[:holdAfter-sent]
			if _, err := dst.Write(before); err != nil {
				break
			}
			sent, data, holdAfter = holdAfter, data[len(before):], 0
			l.hold()
		}
		if _, err := dst.Write(data); err != nil {
			break
		}
		sent += int64(len(data))
		if count != nil {
			count.Add(int64(len(c.data)))
		}
	}
	for range q { // drain what a closed dst will never take
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// hold stops the calling connection until Release, if it is the first to
// get here; later ones pass.
func (l *Link) hold() {
	first := false
	l.holdOnce.Do(func() { first = true; close(l.held) })
	if first {
		<-l.release
	}
}
