package deploy

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/step"
)

// The copy is `nix copy --to ssh-ng://` through the shared connection. It
// is started as soon as the connection is up, while the probe runs: on the
// board its nix-daemon waits behind a gate (remote-program is a wrapper
// that waits for a file the board shell creates on "copy"), so the local
// nix start-up and the ssh session overlap the probe, and nothing but the
// daemon protocol's greeting leaves before preflight has judged. A refusal
// cancels it.

// pendingCopy is a nix copy under way, its board side waiting at the gate
// until open.
type pendingCopy struct {
	p      *pusher
	cancel context.CancelFunc
	done   chan error

	mu   sync.Mutex
	tr   *CopyTracker // nil until the gate opens
	last time.Time    // last progress event
}

// gateProgram is the remote-program of the copy: on the board it waits for
// the board shell to write <gate>/go, which sets SUDO and STORE as the
// probe found them (sudo for a non-root user; the installer's store on
// /mnt), then becomes nix-daemon; Nix appends --stdio. It may start before
// the board shell has made its directory. A session without a terminal
// gets no hangup when the link goes, so it gives up by itself when the
// board shell's directory is gone (or never came), its ssh session has
// ended, or after two minutes.
func gateProgram(token string) string {
	return `sh -c 'set -f; d=/tmp/jetup-` + token + `; p=$PPID; n=0; seen=0; while [ ! -s "$d/go" ]; do n=$((n+1)); ` +
		`[ $n -lt 2400 ] && kill -0 "$p" 2>/dev/null || exit 1; ` +
		`if [ -d "$d" ]; then seen=1; elif [ $seen = 1 ] || [ $n -gt 200 ]; then exit 1; fi; sleep 0.05; done; ` +
		`. "$d/go"; exec $SUDO "$@" ${STORE:+--store "$STORE"}' jetup-gate nix-daemon`
}

// storeQuery is the ssh-ng URL query with the gate.
func storeQuery(token string) string {
	return strings.ReplaceAll(url.Values{"remote-program": {gateProgram(token)}}.Encode(), "+", "%20")
}

// startCopy starts nix copy at once, its daemon waiting at the board's
// gate.
func (p *pusher) startCopy(ctx context.Context) *pendingCopy {
	ctx, cancel := context.WithCancel(ctx)
	pc := &pendingCopy{p: p, cancel: cancel, done: make(chan error, 1)}
	u, env := p.conn.StoreURL(storeQuery(p.gate))
	// nix's log through the Nix runner's reader: kept raw in the push
	// log, each line parsed for the copy tracker.
	lg := nixrun.NewLog(nixrun.Watch{Raw: p.log, Line: pc.line})
	go func() {
		err := p.edge.Nix.Copy(ctx, CopyRequest{To: u, Paths: []string{p.res.System}, Env: env, NoCheckSigs: true}, lg)
		lg.Close()
		pc.done <- err
	}()
	return pc
}

func (pc *pendingCopy) line(l nixrun.Line) {
	now := time.Now()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.tr != nil && pc.tr.Feed(l, now) {
		pc.emit(now, false)
	}
}

// emit sends a progress event, at most every ProgressEvery unless forced.
// Called with mu held.
func (pc *pendingCopy) emit(now time.Time, force bool) {
	if !force && now.Sub(pc.last) < pc.p.o.ProgressEvery {
		return
	}
	pc.last = now
	pc.p.sink.Emit(pc.tr.Snapshot(now))
}

// stop ends a copy that will not be needed: the board shell makes the
// waiting daemon exit, so nix ends at once on its own (a signal would
// leave its ssh client holding the connection); cancelled if the board
// does not answer. A nil copy (none was started) has nothing to stop.
func (pc *pendingCopy) stop() {
	if pc == nil {
		return
	}
	if pc.p.conn.Send("nocopy\n") == nil {
		select {
		case <-pc.done:
			pc.cancel()
			return
		case <-time.After(5 * time.Second):
		}
	}
	pc.cancel()
	<-pc.done
}

// open tells the board shell to open the gate, then waits for the copy,
// emitting progress: on every path finished and once a second while a
// large path is on its way.
func (pc *pendingCopy) open(tr *CopyTracker) error {
	pc.mu.Lock()
	pc.tr = tr
	tr.sample(time.Now())
	pc.emit(time.Now(), true)
	pc.mu.Unlock()
	if err := pc.p.conn.Send("copy\n"); err != nil {
		pc.stop()
		return err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-pc.done:
			pc.cancel()
			return err
		case now := <-tick.C:
			pc.mu.Lock()
			if now.Sub(pc.last) >= time.Second {
				pc.emit(now, true)
			}
			pc.mu.Unlock()
		}
	}
}

// copy sends the missing paths through the pending copy, reporting
// progress; a copy cut off by a lost connection is resumed on a new one
// (Options.Retries times), sending only what has not arrived.
func (p *pusher) copy(ctx context.Context, pc *pendingCopy, missing []StorePath) error {
	var bytes int64
	for _, m := range missing {
		bytes += m.NarSize
	}
	p.res.Sent, p.res.SentBytes = len(missing), bytes
	if len(missing) == 0 {
		pc.stop()
		p.phase(PhaseCopy, "nothing to send: the board has every path")
		return nil
	}
	p.phase(PhaseCopy, "sending %d paths (%s)", len(missing), MiB(bytes))
	start := time.Now()
	tr := NewCopyTracker(missing)
	for {
		err := pc.open(tr)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		snap := tr.Snapshot(time.Now())
		if !p.lost(err) {
			return &step.Error{Cause: string(CauseCopyFailed), Err: err,
				What: fmt.Sprintf("nix copy failed after %d of %d paths", snap.PathsDone, snap.PathsTotal),
				Next: "see the push log in the run record; the paths already sent stay on the board, so a new push resumes"}
		}
		if tr.attempt > p.o.Retries {
			return &step.Error{Cause: string(CauseConnectionLost), Err: err,
				What: fmt.Sprintf("the connection dropped during the copy: %d of %d paths (%s of %s) arrived and stay on the board",
					snap.PathsDone, snap.PathsTotal, MiB(snap.BytesDone), MiB(snap.BytesTotal)),
				Next: "check the link to the board, then run the same push again: it sends only what is missing"}
		}
		p.sink.Emit(step.Warning{At: time.Now(),
			Warning: fmt.Sprintf("the connection dropped after %d of %d paths", snap.PathsDone, snap.PathsTotal),
			Next:    fmt.Sprintf("reconnecting to resume (attempt %d of %d)", tr.attempt+1, p.o.Retries+1)})
		if pc, err = p.reconnect(ctx, tr); err != nil {
			return err
		}
	}
	p.res.CopySeconds = time.Since(start).Seconds()
	final := tr.Snapshot(time.Now())
	final.PathsDone, final.BytesDone, final.Current = final.PathsTotal, final.BytesTotal, ""
	final.ETASeconds = 0
	p.sink.Emit(final)
	return nil
}

// lost tells a dropped link from a copy that failed on its own.
func (p *pusher) lost(err error) bool {
	if p.conn == nil || !p.conn.Alive() {
		return true
	}
	s := strings.ToLower(err.Error())
	for _, sign := range []string{"unexpected end-of-file", "broken pipe", "connection reset", "closed by remote host",
		"connection closed", "connection timed out", "timeout, server"} {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

// reconnect opens a new connection after a drop, asks the board again what
// it lacks, so the progress counts what already arrived, and starts a new
// copy behind the new connection's gate.
func (p *pusher) reconnect(ctx context.Context, tr *CopyTracker) (*pendingCopy, error) {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := p.redial(ctx); err != nil {
		return nil, err
	}
	p.res.Attempts++
	pc := p.startCopy(ctx)
	f, err := p.probe(ctx)
	if err != nil {
		pc.stop()
		return nil, err
	}
	invalid := map[string]bool{}
	for _, s := range f.Invalid {
		invalid[s] = true
	}
	var arrived []string
	for sp := range tr.sizes {
		if !invalid[sp] {
			arrived = append(arrived, sp)
		}
	}
	tr.resume()
	tr.markPresent(arrived)
	return pc, nil
}
