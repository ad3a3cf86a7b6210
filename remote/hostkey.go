package remote

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/safe"
)

// jetup keeps its own known_hosts file (under the state dir) in OpenSSH's
// format, and every ssh it starts (its own and the one `nix copy` starts)
// checks against it with StrictHostKeyChecking=yes. Go's knownhosts
// package reads the same file to tell a first contact from a changed key
// before OpenSSH is asked, so the messages can say which it is.

// Fingerprint is the SHA256 fingerprint as OpenSSH prints it.
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// SameFingerprint compares fingerprints as people type them: with or
// without "SHA256:" and base64 padding.
func SameFingerprint(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		s = strings.TrimPrefix(strings.TrimPrefix(s, "SHA256:"), "sha256:")
		return strings.TrimRight(s, "=")
	}
	return norm(a) != "" && norm(a) == norm(b)
}

// KnownHosts is jetup's known_hosts file.
type KnownHosts struct{ File string }

// KnownHostsPath is where jetup keeps its known_hosts under the state
// dir. The simulated bench keeps its pins apart (known_hosts.sim), so the
// simulated board's key is never trusted for a real board at the same
// address. Every face takes the path from here.
func KnownHostsPath(stateDir string, sim bool) string {
	name := "known_hosts"
	if sim {
		name += ".sim"
	}
	return filepath.Join(stateDir, name)
}

// maxKnownHosts bounds the file: a pin is ~150 bytes, an RSA-16384 one 3 KiB.
const maxKnownHosts = 64 << 20

// ensure creates the file (0600, its directory 0700) if missing, and
// refuses one another user owns or may write to: its pins decide which
// board jetup trusts.
func (k KnownHosts) ensure() error {
	if err := os.MkdirAll(filepath.Dir(k.File), 0o700); err != nil {
		return err
	}
	if err := safe.CheckFile(k.File); err != nil {
		return fmt.Errorf("not trusted: %w", err)
	}
	f, err := os.OpenFile(k.File, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// lock takes an exclusive lock on the file's directory for one edit, so a
// Forget that rewrites the file and a Pin that appends to it (two pushes
// on one bench) never lose each other's lines. The directory, not the
// file: Forget replaces the file, and a lock on the old one would not
// keep a Pin waiting on it from appending to a file no longer there.
func (k KnownHosts) lock() (unlock func(), err error) {
	d, err := os.Open(filepath.Dir(k.File))
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX); err != nil {
		d.Close()
		return nil, err
	}
	return func() { _ = d.Close() }, nil // closing the last fd releases the lock
}

// read reads the whole file, or fails: an edit never starts from part of it.
func (k KnownHosts) read() ([]byte, error) {
	b, err := safe.ReadFile(k.File, maxKnownHosts)
	if errors.Is(err, safe.ErrTooLarge) {
		return nil, fmt.Errorf("%w: not edited", err)
	}
	return b, err
}

// throwawayKey is a key no board offers (an all-zero ed25519 key), for
// asking the file which keys it holds for a host.
func throwawayKey() ssh.PublicKey {
	k, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	return k
}

// Pinned returns the keys pinned for addr ("host:port").
func (k KnownHosts) Pinned(addr string) ([]ssh.PublicKey, error) {
	if err := k.ensure(); err != nil {
		return nil, err
	}
	cb, err := knownhosts.New(k.File)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.File, err)
	}
	err = cb(addr, placeholderAddr(addr), throwawayKey())
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil, err
	}
	keys := make([]ssh.PublicKey, len(ke.Want))
	for i, w := range ke.Want {
		keys[i] = w.Key
	}
	return keys, nil
}

// placeholderAddr is a net.Addr with addr's port; knownhosts prefers the
// hostname given and only needs the remote address to parse.
func placeholderAddr(addr string) net.Addr {
	_, port, _ := net.SplitHostPort(addr)
	p := 22
	fmt.Sscan(port, &p)
	return &net.TCPAddr{IP: net.IPv4zero, Port: p}
}

// Pin appends key for addr, in the form OpenSSH looks up ("host" on port
// 22, "[host]:port" otherwise). A file whose last line has no newline gets
// one first, so the pin never changes that line.
func (k KnownHosts) Pin(addr string, key ssh.PublicKey) error {
	if err := checkAddr(addr); err != nil {
		return err // it would become a line, or a field, of its own in the file
	}
	if err := k.ensure(); err != nil {
		return err
	}
	unlock, err := k.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := os.OpenFile(k.File, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("# pinned by jetup %s\n%s\n", time.Now().UTC().Format(time.RFC3339),
		knownhosts.Line([]string{knownhosts.Normalize(addr)}, key))
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkAddr checks a "host:port" before it goes into known_hosts.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return fmt.Errorf("%q: %q is not a TCP port", addr, port)
	}
	return CheckHost(host)
}

// Forget removes every key pinned for addr, with the "# pinned by jetup"
// line right above each, and returns how many keys it removed. Every other
// byte stays as it was: lines of any length, comments, blank lines, CRs,
// a last line without a newline. The file is read whole or not edited,
// and replaced atomically (a temp file beside it, synced, renamed over it,
// the directory synced): a crash leaves the old file or the new one.
func (k KnownHosts) Forget(addr string) (int, error) {
	if _, err := os.Stat(k.File); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err := k.ensure(); err != nil {
		return 0, err
	}
	unlock, err := k.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	b, err := k.read()
	if err != nil {
		return 0, err
	}
	out, removed := forgetLines(b, knownhosts.Normalize(addr))
	if removed == 0 {
		return 0, nil
	}
	return removed, replaceFile(k.File, out)
}

// forgetLines drops the entries for host (and the jetup comment right
// above each) from a known_hosts file's bytes.
func forgetLines(b []byte, host string) ([]byte, int) {
	out := make([]byte, 0, len(b))
	removed := 0
	var held []byte // a "# pinned by jetup" line, kept unless the next line goes
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line = b[:i+1]
		}
		b = b[len(line):]
		if isEntryFor(line, host) {
			removed++
			held = nil
			continue
		}
		out = append(out, held...)
		held = nil
		if bytes.HasPrefix(line, []byte("# pinned by jetup")) {
			held = line
			continue
		}
		out = append(out, line...)
	}
	return append(out, held...), removed
}

// isEntryFor reports whether a known_hosts line is a key for host (not a
// comment, not a @cert-authority or @revoked marker line).
func isEntryFor(line []byte, host string) bool {
	f := strings.Fields(string(line))
	return len(f) >= 3 && !strings.HasPrefix(f[0], "#") && hostsField(f[0], host)
}

// replaceFile writes data to a temp file in path's directory, syncs it,
// renames it over path and syncs the directory.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// hostsField reports whether a known_hosts host list names host.
func hostsField(list, host string) bool {
	for _, h := range strings.Split(list, ",") {
		if h == host {
			return true
		}
	}
	return false
}

// keyAlgorithms are the host key algorithms to ask for: the pinned keys'
// own first (as OpenSSH orders them), then the strongest.
func keyAlgorithms(pinned []ssh.PublicKey) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	for _, k := range pinned {
		if k.Type() == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
			continue
		}
		add(k.Type())
	}
	if len(out) > 0 {
		return out
	}
	add(ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
	return out
}
