package deploy

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/step"
)

// copy sends the missing paths with `nix copy --to ssh-ng://`, reporting
// progress; a copy cut off by a lost connection is resumed on a new one
// (Options.Retries times), sending only what has not arrived.
func (p *pusher) copy(ctx context.Context, missing []StorePath) error {
	var bytes int64
	for _, m := range missing {
		bytes += m.NarSize
	}
	p.res.Sent, p.res.SentBytes = len(missing), bytes
	if len(missing) == 0 {
		p.phase(PhaseCopy, "nothing to send: the board has every path")
		return nil
	}
	p.phase(PhaseCopy, "sending %d paths (%s)", len(missing), MiB(bytes))
	start := time.Now()
	tr := newCopyTracker(missing)
	for {
		err := p.copyOnce(ctx, tr)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		snap := tr.Snapshot(time.Now())
		if !p.lost(err) {
			return &step.Error{Cause: "copy-failed", Err: err,
				What: fmt.Sprintf("nix copy failed after %d of %d paths", snap.PathsDone, snap.PathsTotal),
				Next: "see the push log in the run record; the paths already sent stay on the board, so a new push resumes"}
		}
		if tr.attempt > p.o.Retries {
			return &step.Error{Cause: "connection-lost", Err: err,
				What: fmt.Sprintf("the connection dropped during the copy: %d of %d paths (%s of %s) arrived and stay on the board",
					snap.PathsDone, snap.PathsTotal, MiB(snap.BytesDone), MiB(snap.BytesTotal)),
				Next: "check the link to the board, then run the same push again: it sends only what is missing"}
		}
		p.sink.Emit(step.Warning{At: time.Now(),
			Warning: fmt.Sprintf("the connection dropped after %d of %d paths", snap.PathsDone, snap.PathsTotal),
			Next:    fmt.Sprintf("reconnecting to resume (attempt %d of %d)", tr.attempt+1, p.o.Retries+1)})
		if err := p.reconnect(ctx, tr); err != nil {
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

// reconnect opens a new connection after a drop and asks the board again
// what it lacks, so the progress counts what already arrived.
func (p *pusher) reconnect(ctx context.Context, tr *copyTracker) error {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := p.dial(ctx); err != nil {
		return p.dialErr(ctx, p.o.Target.Addr(), nil, err)
	}
	p.res.Attempts++
	f, err := p.probe(ctx)
	if err != nil {
		return err
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
	return nil
}

// storeQuery is the ssh-ng URL query for the board: the installer's store
// on /mnt, and sudo for a non-root user.
func storeQuery(f Facts) string {
	v := url.Values{}
	if f.StoreRoot != "" {
		v.Set("remote-store", "local?root="+f.StoreRoot)
	}
	if f.Priv == "sudo" {
		v.Set("remote-program", "sudo -n nix-daemon")
	}
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}

// copyOnce runs one nix copy, turning its log into progress events: on
// every path finished (at most every ProgressEvery) and once a second
// while a large path is on its way.
func (p *pusher) copyOnce(ctx context.Context, tr *copyTracker) error {
	u, env := p.conn.StoreURL(storeQuery(p.facts))
	var mu sync.Mutex
	last := time.Time{}
	emit := func(now time.Time, force bool) {
		if !force && now.Sub(last) < p.o.ProgressEvery {
			return
		}
		last = now
		p.sink.Emit(tr.Snapshot(now))
	}
	mu.Lock()
	tr.sample(time.Now())
	emit(time.Now(), true)
	mu.Unlock()

	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				mu.Lock()
				if now.Sub(last) >= time.Second {
					emit(now, true)
				}
				mu.Unlock()
			}
		}
	}()
	lw := NewLineWriter(func(line string) {
		fmt.Fprintln(p.log, line)
		l := ParseNixLine(line)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if tr.Feed(l, now) {
			emit(now, false)
		}
	})
	err := p.edge.Nix.Copy(ctx, CopyRequest{To: u, Paths: []string{p.res.System}, Env: env, NoCheckSigs: true}, lw)
	lw.Flush()
	return err
}
