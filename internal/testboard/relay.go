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
			go relayConn(c, target, delay)
		}
	}()
	return ln.Addr().String()
}

func relayConn(client net.Conn, target string, delay time.Duration) {
	upstream, err := net.Dial("tcp", target)
	if err != nil {
		client.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { delayedCopy(upstream, client, delay); done <- struct{}{} }()
	go func() { delayedCopy(client, upstream, delay); done <- struct{}{} }()
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
// read, in order.
func delayedCopy(dst, src net.Conn, delay time.Duration) {
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
	for c := range q {
		time.Sleep(time.Until(c.due))
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
