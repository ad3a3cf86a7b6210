package fleet

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// Through a binary cache (--cache URL): this machine copies each distinct
// system's closure once to the cache (`nix copy --to`, to --cache-to when
// this machine writes it elsewhere than the nodes read it: a static
// directory behind a web server), and each node fetches what it lacks
// from the cache itself (deploy.Options.Cache), the cache's public keys
// trusted for that copy only. So this machine's uplink carries each path
// once, whatever the number of nodes.

// CacheUpload is this machine's copy of the systems to the binary cache.
type CacheUpload struct {
	Event   string    `json:"event"` // "cache"
	At      time.Time `json:"at"`
	URL     string    `json:"url"` // where it copied to, without its query
	Systems []string  `json:"systems"`
	Paths   int       `json:"paths"`
	// Bytes are the NAR bytes of the closures offered (nix copy sends only
	// what the cache lacks).
	Bytes int64 `json:"bytes"`
	// Compression is the NARs' in the cache (compression= of the URL;
	// zstd unless the user named another).
	Compression string  `json:"compression,omitempty"`
	Seconds     float64 `json:"seconds"`
	Error       string  `json:"error,omitempty"`
}

// Text renders "cache file:///srv/cache: 512 paths (1.2 GiB) copied in 3.1s".
func (c CacheUpload) Text() string {
	if c.Error != "" {
		return fmt.Sprintf("cache %s: the systems could not be copied: %s", c.URL, c.Error)
	}
	s := fmt.Sprintf("cache %s: %d systems' closures (%d paths, %s) copied in %.1fs", c.URL, len(c.Systems), c.Paths, deploy.MiB(c.Bytes), c.Seconds)
	if c.Compression != "" {
		s += ", " + c.Compression + "-compressed"
	}
	return s
}

// shownURL is a store URL without its query (a secret key's path, tokens).
func shownURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// checkCacheURL accepts a binary cache's store URL.
func checkCacheURL(flag, u string) error {
	if u == "" {
		return nil
	}
	for _, c := range u {
		if c <= ' ' || c == 0x7f {
			return step.Refuse("usage", "give the cache's URL without spaces", "%s %q holds a space or a control character", flag, u)
		}
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		return step.Refuse("usage", "give a binary cache URL: http(s)://, s3://, ssh://, file://", "%s %q is not a URL", flag, u)
	}
	switch p.Scheme {
	case "http", "https", "s3", "ssh", "ssh-ng", "file", "gs":
		return nil
	}
	return step.Refuse("usage", "give a binary cache URL: http(s)://, s3://, ssh://, file://", "%s: unknown scheme %q", flag, p.Scheme)
}

// cacheKeys are the public keys the nodes trust for the cache: those
// given, and the public half of the secret-key= the upload URL signs
// with (read here, never logged).
func cacheKeys(given []string, uploadURL string) ([]string, error) {
	var keys []string
	for _, k := range given {
		name, b64, ok := strings.Cut(k, ":")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || name == "" || err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, step.Refuse("usage", "give the cache's public key as trusted-public-keys has it: NAME:BASE64 (nix key convert-secret-to-public)",
				"--cache-key %q is not a Nix public key", k)
		}
		keys = append(keys, k)
	}
	if p, err := url.Parse(uploadURL); err == nil {
		if file := p.Query().Get("secret-key"); file != "" {
			pub, err := publicOfSecretKey(file)
			if err != nil {
				return nil, step.Refuse("usage", "check the secret-key= file of the cache URL (nix key generate-secret makes one)", "%v", err)
			}
			keys = append(keys, pub)
		}
	}
	if len(keys) == 0 {
		return nil, step.Refuse("usage", "pass --cache-key NAME:BASE64, the cache's public key (the nodes trust it for this copy only)",
			"no public key for the binary cache: the nodes would refuse its paths")
	}
	return keys, nil
}

// publicOfSecretKey is the public key of a Nix signing key file
// (NAME:BASE64 of an ed25519 private key, seed then public half), as
// `nix key convert-secret-to-public` prints it.
func publicOfSecretKey(file string) (string, error) {
	b, err := safe.ReadFile(file, 4096) // NAME:BASE64 of 64 bytes
	if err != nil {
		return "", fmt.Errorf("the cache's secret key: %v", err)
	}
	name, b64, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	raw, derr := base64.StdEncoding.DecodeString(b64)
	if !ok || name == "" || derr != nil || len(raw) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("%s is not a Nix secret key (NAME:BASE64)", file)
	}
	return name + ":" + base64.StdEncoding.EncodeToString(ed25519.PrivateKey(raw).Public().(ed25519.PublicKey)), nil
}

// CacheProgress is this machine's copy to the binary cache as it goes
// (at most twice a second, and at its end). Paths already in the cache
// are not copied again: a copy that ends short of 100% found them there.
type CacheProgress struct {
	Event    string              `json:"event"` // "cache-progress"
	At       time.Time           `json:"at"`
	URL      string              `json:"url"`
	Progress deploy.CopyProgress `json:"progress"`
}

// Text renders "cache file:///srv/cache: copy 41% 120/310 paths, ...".
func (c CacheProgress) Text() string { return "cache " + c.URL + ": " + c.Progress.Text() }

// uploadLog reads the upload's nix log: kept in the build log, each line
// fed to a copy tracker of the closure's paths, whose progress is
// emitted.
func (r *fleetRun) uploadLog(url string, paths []deploy.StorePath) *nixrun.Log {
	var mu sync.Mutex
	tr := deploy.NewCopyTracker(paths)
	var last time.Time
	emit := func(now time.Time, force bool) {
		if !force && now.Sub(last) < 500*time.Millisecond {
			return
		}
		last = now
		r.sink.Emit(CacheProgress{Event: "cache-progress", At: now, URL: url, Progress: tr.Snapshot(now)})
	}
	return nixrun.NewLog(nixrun.Watch{Raw: r.slog, Line: func(l nixrun.Line) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if tr.Feed(l, now) {
			snap := tr.Snapshot(now)
			emit(now, snap.PathsDone == snap.PathsTotal)
		}
	}})
}

// uploadURL is the store URL this machine copies to: the user's, with
// compression=zstd added when it is a binary cache (file, http(s), s3)
// naming no compression of its own. Nix's default there is xz, whose
// compressor costs tens of milliseconds to set up for every path: on a
// system of many small paths the upload took twice as long as with zstd
// (docs/BENCHMARKS.md, Fleet). Nix reads zstd since 2.4; a board with an
// older Nix needs compression=xz in the URL (cacheError says so).
func uploadURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	switch p.Scheme {
	case "file", "http", "https", "s3":
	default:
		return u
	}
	if p.Query().Has("compression") {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&compression=zstd"
	}
	return u + "?compression=zstd"
}

// upload is this machine's copy of the systems to the binary cache, which
// runs while the nodes of the first phase are reached and checked: each
// node waits for it only right before its fetch (deploy.Cache.Ready).
type upload struct {
	done chan struct{}
	err  error // set before done is closed
}

// startUpload starts the copy to the cache (nil without --cache).
func (r *fleetRun) startUpload(ctx context.Context) *upload {
	if r.o.Cache == "" {
		return nil
	}
	u := &upload{done: make(chan struct{})}
	go func() {
		defer close(u.done)
		u.err = r.uploadCache(ctx)
	}()
	return u
}

// failed is the upload's error once it has ended (nil while it runs).
func (u *upload) failed() error {
	if u == nil {
		return nil
	}
	select {
	case <-u.done:
		return u.err
	default:
		return nil
	}
}

// wait waits for the upload to end and returns its error (deploy calls
// it once done is closed).
func (u *upload) wait() error {
	if u == nil {
		return nil
	}
	<-u.done
	return u.err
}

// uploadCache copies the built systems to the cache, once. Its error is
// the one of every node that would fetch from it (cause cache-upload).
func (r *fleetRun) uploadCache(ctx context.Context) error {
	to := r.o.CacheTo
	if to == "" {
		to = r.o.Cache
	}
	to = uploadURL(to)
	var systems []string
	for _, p := range r.systems {
		systems = append(systems, p)
	}
	if len(systems) == 0 {
		return nil
	}
	sort.Strings(systems)
	ev := CacheUpload{Event: "cache", URL: shownURL(to), Systems: systems}
	if p, err := url.Parse(to); err == nil {
		ev.Compression = p.Query().Get("compression")
	}
	seen := map[string]bool{}
	var paths []deploy.StorePath
	for _, s := range systems {
		if b, err := r.edge.Push.Nix.PathInfo(ctx, s); err == nil {
			if c, err := deploy.ParsePathInfo(s, b); err == nil {
				for _, p := range c.Paths {
					if !seen[p.Path] {
						seen[p.Path] = true
						paths = append(paths, p)
						ev.Paths++
						ev.Bytes += p.NarSize
					}
				}
			}
		}
	}
	start := time.Now()
	fmt.Fprintf(r.slog, "== nix copy --to %s %s\n", shownURL(to), strings.Join(systems, " "))
	lg := r.uploadLog(ev.URL, paths)
	// In the background: the nodes wait for it only once they passed
	// preflight, and meanwhile their ssh sessions need this machine's CPU.
	err := r.edge.Push.Nix.Copy(ctx, deploy.CopyRequest{To: to, Paths: systems, Background: true}, lg)
	lg.Close()
	ev.At, ev.Seconds = time.Now(), time.Since(start).Seconds()
	if err != nil {
		ev.Error = firstLines(err.Error(), 4)
		r.sink.Emit(ev)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &step.Error{Cause: "cache-upload", Err: err, What: "the systems could not be copied to the binary cache " + shownURL(to) + ": " + firstLines(err.Error(), 4),
			Next: "check that the cache runs and this machine may write to it (fleet's build.log has nix's words), or push without --cache"}
	}
	r.mu.Lock()
	r.rec.CacheBytes = ev.Bytes
	r.mu.Unlock()
	r.sink.Emit(ev)
	return nil
}
