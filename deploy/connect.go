package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
)

// connect trusts the board's host key and opens the shared connection,
// its first session the board shell (remote.Connect holds the rules).
func (p *pusher) connect(ctx context.Context) error {
	p.phase(PhaseConnect, "connecting to %s", p.o.Target)
	conn, fp, err := remote.Connect(ctx, p.edge.SSH, p.o.Target, p.o.Trust, p.dialOptions(), p.sink)
	if err != nil {
		return err
	}
	p.res.Fingerprint = fp
	p.use(conn)
	return nil
}

// redial opens a new connection to a board whose key is pinned now (the
// copy is resumed on it).
func (p *pusher) redial(ctx context.Context) error {
	conn, err := remote.Redial(ctx, p.edge.SSH, p.o.Target, p.o.Trust, p.dialOptions(), p.sink)
	if err != nil {
		return err
	}
	p.use(conn)
	return nil
}

// dialOptions carry a fresh gate token: the board shell of every
// connection has its own gate for the copy.
func (p *pusher) dialOptions() remote.DialOptions {
	var tok [16]byte
	_, _ = rand.Read(tok[:]) // crypto/rand.Read never fails on Linux
	p.gate = hex.EncodeToString(tok[:])
	return remote.DialOptions{KnownHosts: p.o.KnownHosts, Compress: p.o.Compress,
		Log: p.log, Script: BoardScript(p.o.Mode, p.res.System, p.gate, p.confirmOpt())}
}

func (p *pusher) use(conn remote.Conn) {
	p.conn = conn
	p.out = proc.NewLineScanner(conn.Output(), proc.MaxLine)
}
