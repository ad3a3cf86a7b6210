package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// Cause ids of a fetch from a binary cache, told apart by nix's own words.
const (
	CauseCacheUnreachable Cause = "cache-unreachable"  // the board cannot reach the cache
	CauseCacheMissing     Cause = "cache-missing-path" // the cache lacks a path of the system
	CauseCacheUntrusted   Cause = "cache-untrusted"    // a path's signature is not by a trusted key
	CauseCacheFailed      Cause = "cache-failed"       // anything else nix copy --from said
)

// fetch has the board substitute the missing paths from the binary cache
// (Options.Cache) instead of sending them (no ssh copy was started): the
// board shell runs `nix copy --from`.
func (p *pusher) fetch(ctx context.Context, missing []StorePath) error {
	c := p.o.Cache
	var bytes int64
	for _, m := range missing {
		bytes += m.NarSize
	}
	p.res.Fetched, p.res.FetchedBytes = len(missing), bytes
	if len(missing) == 0 {
		p.phase(PhaseCopy, "nothing to fetch: the board has every path")
		return nil
	}
	if err := p.waitForCache(ctx); err != nil {
		_ = p.conn.Send("done\n") // the board shell ends with nothing changed
		return err
	}
	p.phase(PhaseCopy, "the board fetches %d paths (%s) from the binary cache %s", len(missing), MiB(bytes), c.URL)
	start := time.Now()
	if err := p.conn.Send("fetch\n" + c.URL + "\n" + strings.Join(c.Keys, " ") + "\n"); err != nil {
		return p.remoteErr(ctx, err, "nix copy --from the cache")
	}
	rc, said := "", []string(nil)
	tr := NewCopyTracker(missing)
	var last time.Time
	for rc == "" && p.out.Scan() {
		l := p.out.Text()
		k, v, ok := remote.Answer(l)
		if !ok {
			fmt.Fprintln(p.log, "board: "+l)
			continue
		}
		switch k {
		case "fetching": // the path nix starts: those before it are in
			if now := time.Now(); tr.fetching(v, now) && now.Sub(last) >= p.o.ProgressEvery {
				last = now
				p.sink.Emit(tr.Snapshot(now))
			}
			continue // one a path: the log has nix's own line for it
		case "fetch_err": // nix's lines: the last ones say why it failed
			if said = append(said, v); len(said) > fetchErrLines {
				said = said[1:]
			}
		case "fetch_rc":
			rc = v
		}
		fmt.Fprintln(p.log, "board: "+l)
	}
	if rc == "" {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &step.Error{Cause: string(CauseConnectionLost), What: "the connection dropped while the board fetched from the binary cache",
			Next: "check the link to the board, then push again: the paths it fetched stay"}
	}
	p.res.CopySeconds = time.Since(start).Seconds()
	if rc != "0" {
		return cacheError(c.URL, rc, said)
	}
	final := tr.Snapshot(time.Now())
	final.PathsDone, final.BytesDone, final.Current, final.ETASeconds = final.PathsTotal, final.BytesTotal, "", 0
	p.sink.Emit(final)
	return nil
}

// fetchErrLines is how many of nix's last lines a failed fetch reports.
const fetchErrLines = 8

// fetching takes the path nix on the board starts to fetch: the one
// before it has arrived (Nix adds them to the store one at a time). It
// reports whether the progress changed.
func (t *CopyTracker) fetching(path string, now time.Time) bool {
	if _, ours := t.sizes[path]; !ours {
		return false
	}
	if t.current != "" {
		t.finish(t.current)
	}
	t.current = path
	t.open = map[uint64]string{0: path}
	t.sample(now)
	return true
}

// waitForCache waits until the system is in the cache (Cache.Ready).
func (p *pusher) waitForCache(ctx context.Context) error {
	c := p.o.Cache
	if c.Ready == nil {
		return nil
	}
	select {
	case <-c.Ready:
	default:
		p.phase(PhaseCopy, "waiting for the system to be in the binary cache %s", c.URL)
		select {
		case <-c.Ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.Uploaded != nil {
		return c.Uploaded()
	}
	return nil
}

// cacheError names what went wrong with the cache from nix's words.
func cacheError(url, rc string, said []string) error {
	text := strings.Join(said, "\n")
	low := strings.ToLower(text)
	e := &step.Error{Cause: string(CauseCacheFailed), What: fmt.Sprintf("nix copy --from %s failed on the board (status %s):\n%s", url, rc, text),
		Next: "read the push log of the node's run record; the paths already fetched stay on the board"}
	switch {
	case rc == "noawk":
		e.What = fmt.Sprintf("the board could not fetch from %s: %s", url, text)
		e.Next = "install awk on the board (gawk; every NixOS has it), or push without --cache"
	case strings.Contains(low, "lacks a signature") || strings.Contains(low, "lacks a valid signature") || strings.Contains(low, "no signature") || strings.Contains(low, "not signed"):
		e.Cause = string(CauseCacheUntrusted)
		e.What = fmt.Sprintf("the board refused a path from %s: it lacks a signature by the cache key given (--cache-key):\n%s", url, text)
		e.Next = "give the cache's own public key with --cache-key (nix key convert-secret-to-public < the cache's secret key), or sign the paths in the cache"
	case strings.Contains(low, "unknown compression method"):
		e.What = fmt.Sprintf("the board's Nix cannot read the cache's compression (%s):\n%s", url, text)
		e.Next = "update the board's Nix (2.4 or later reads zstd), or fill the cache with compression=xz in its URL (--cache-to or --cache)"
	case strings.Contains(low, "unable to download") || strings.Contains(low, "couldn't connect") || strings.Contains(low, "could not resolve") ||
		strings.Contains(low, "connection refused") || strings.Contains(low, "timeout") || strings.Contains(low, "does not exist") && strings.Contains(low, "nix-cache-info"):
		e.Cause = string(CauseCacheUnreachable)
		e.What = fmt.Sprintf("the board cannot reach the binary cache %s:\n%s", url, text)
		e.Next = "check that the cache runs and that the board reaches " + url + " (its address as the board sees it), then push again"
	case strings.Contains(low, "is not valid") || strings.Contains(low, "don't know how to build") || strings.Contains(low, "does not exist in binary cache") ||
		strings.Contains(low, "is not available") || strings.Contains(low, "no substituter"):
		e.Cause = string(CauseCacheMissing)
		e.What = fmt.Sprintf("the binary cache %s lacks a path of the system:\n%s", url, text)
		e.Next = "copy the system to the cache again (nix copy --to), then push again"
	}
	return e
}
