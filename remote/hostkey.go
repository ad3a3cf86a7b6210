package remote

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
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

// ensure creates the file (0600, its directory 0700) if missing.
func (k KnownHosts) ensure() error {
	if err := os.MkdirAll(filepath.Dir(k.File), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(k.File, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
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
// 22, "[host]:port" otherwise).
func (k KnownHosts) Pin(addr string, key ssh.PublicKey) error {
	if err := k.ensure(); err != nil {
		return err
	}
	f, err := os.OpenFile(k.File, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("# pinned by jetup %s\n%s\n", time.Now().UTC().Format(time.RFC3339),
		knownhosts.Line([]string{knownhosts.Normalize(addr)}, key))
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Forget removes every key pinned for addr and returns how many it removed.
func (k KnownHosts) Forget(addr string) (int, error) {
	b, err := os.ReadFile(k.File)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	host := knownhosts.Normalize(addr)
	var out bytes.Buffer
	removed := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	var comment string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# pinned by jetup") {
			comment = line
			continue
		}
		fields := strings.Fields(line)
		if len(fields) >= 3 && !strings.HasPrefix(line, "#") && hostsField(fields[0], host) {
			removed++
			comment = ""
			continue
		}
		if comment != "" {
			out.WriteString(comment + "\n")
			comment = ""
		}
		out.WriteString(line + "\n")
	}
	if removed == 0 {
		return 0, nil
	}
	tmp := k.File + ".tmp"
	if err := os.WriteFile(tmp, out.Bytes(), 0o600); err != nil {
		return 0, err
	}
	return removed, os.Rename(tmp, k.File)
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
