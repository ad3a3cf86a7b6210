package testboard

import (
	"net"
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
	return RelayLimited(t, target, delay, 0)
}

// RelayLimited is Relay that also carries at most rate bytes per second in
// each direction (0: no limit), a slow link for the tests that must cut a
// copy in the middle.
func RelayLimited(t testing.TB, target string, delay time.Duration, rate int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go relayConn(c, target, delay, rate)
		}
	}()
	return ln.Addr().String()
}

func relayConn(client net.Conn, target string, delay time.Duration, rate int64) {
	upstream, err := net.Dial("tcp", target)
	if err != nil {
		client.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { delayedCopy(upstream, client, delay, rate); done <- struct{}{} }()
	go func() { delayedCopy(client, upstream, delay, rate); done <- struct{}{} }()
	<-done
	<-done
	client.Close()
	upstream.Close()
}

type chunk struct {
	due  time.Time
	data []byte
}

// delayedCopy copies src to dst, each chunk written delay after it was
// read, in order, and no faster than rate.
func delayedCopy(dst, src net.Conn, delay time.Duration, rate int64) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 64*1024)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	start, sent := time.Now(), int64(0)
	for c := range q {
		time.Sleep(time.Until(c.due))
		if rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(sent * int64(time.Second) / rate))))
			sent += int64(len(c.data))
		}
		if _, err := dst.Write(c.data); err != nil {
			for range q {
			}
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
