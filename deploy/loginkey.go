package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// LoginKey is the public half of the key the push logs in with: the line
// that goes into the board's authorized_keys. jetup only ever reads public
// keys (a .pub file or the agent's list); the private key is never opened.
type LoginKey struct {
	Line        string `json:"line"`        // "ssh-ed25519 AAAA... comment"
	Type        string `json:"type"`        // "ssh-ed25519"
	Fingerprint string `json:"fingerprint"` // SHA256:...
	Source      string `json:"source"`      // the .pub file, or "ssh-agent"
}

// KeyLookup says where FindLoginKey looks.
type KeyLookup struct {
	// Identity is the push's private key file (--identity): its .pub is
	// the only candidate when it is set.
	Identity string
	// Home is the directory holding .ssh (the user's home when "").
	Home string
	// AgentSocket is the ssh-agent's socket ($SSH_AUTH_SOCK when "";
	// "none" skips the agent).
	AgentSocket string
}

// defaultKeyFiles are the public keys OpenSSH's client offers by default,
// in the order FindLoginKey prefers them.
var defaultKeyFiles = []string{"id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"}

// FindLoginKey finds the public key the push will log in with: the
// identity's .pub when an identity is set, else the first of
// ~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub, else the ssh-agent's
// first key (what `ssh-add -L` lists first). It refuses with the next step
// when there is none.
func FindLoginKey(ctx context.Context, l KeyLookup) (LoginKey, error) {
	if l.Identity != "" {
		pub := l.Identity
		if !strings.HasSuffix(pub, ".pub") {
			pub += ".pub"
		}
		k, err := readKeyFile(pub)
		if errors.Is(err, os.ErrNotExist) {
			return LoginKey{}, step.Refuse(string(CauseNoPublicKey), "write it next to the private key: ssh-keygen -y -f "+l.Identity+" > "+pub,
				"the push's identity %s has no public key %s", l.Identity, pub)
		}
		return k, err
	}
	home := l.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	var looked []string
	for _, name := range defaultKeyFiles {
		f := filepath.Join(home, ".ssh", name)
		looked = append(looked, f)
		k, err := readKeyFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return k, err
	}
	sock := l.AgentSocket
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" && sock != "none" {
		k, err := agentKey(ctx, sock)
		if err != nil || k.Line != "" {
			return k, err
		}
		looked = append(looked, "the ssh-agent")
	}
	return LoginKey{}, step.Refuse(string(CauseNoPublicKey), "make one: ssh-keygen -t ed25519 (then try again)",
		"no SSH public key found (looked for %s)", strings.Join(looked, ", "))
}

// readKeyFile reads one public key file. A file that is not a public key
// is refused without quoting it: a private key handed over by mistake must
// not end up in a log.
func readKeyFile(path string) (LoginKey, error) {
	b, err := safe.ReadFile(path, 16<<10) // longer is not a public key
	switch {
	case errors.Is(err, os.ErrNotExist):
		return LoginKey{}, err
	case errors.Is(err, safe.ErrNotRegular):
		return LoginKey{}, step.Refuse(string(CauseBadPublicKey), "point at the .pub file", "%v", err)
	case err != nil && !errors.Is(err, safe.ErrTooLarge):
		return LoginKey{}, step.Refuse(string(CauseBadPublicKey), "check the file's permissions", "cannot read %s: %v", path, err)
	}
	if err != nil || strings.Contains(string(b), "PRIVATE KEY") {
		return LoginKey{}, step.Refuse(string(CauseBadPublicKey), "point at the .pub file, not the private key", "%s is not a public key", path)
	}
	k, err := ParseLoginKey(strings.TrimRight(string(b), "\r\n"))
	if err != nil {
		return LoginKey{}, step.Refuse(string(CauseBadPublicKey), "check the file: one line, as ssh-keygen writes it", "%s: %v", path, err)
	}
	k.Source = path
	return k, nil
}

// agentKey is the agent's first key, or an empty key when it holds none.
// The agent is asked directly over its socket, which is what ssh-add -L
// does, without starting a program.
func agentKey(ctx context.Context, sock string) (LoginKey, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		// A stale SSH_AUTH_SOCK is common (an old session's agent): it
		// means no agent, not an error.
		return LoginKey{}, nil
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	keys, err := agent.NewClient(conn).List()
	if err != nil {
		return LoginKey{}, step.Errorf(string(CauseSSHAgent), "check the agent (ssh-add -L) or unset SSH_AUTH_SOCK", "the ssh-agent at %s did not answer: %v", sock, err)
	}
	if len(keys) == 0 {
		return LoginKey{}, nil
	}
	k, err := ParseLoginKey(keys[0].String())
	if err != nil {
		return LoginKey{}, step.Refuse(string(CauseBadPublicKey), "load another key into the agent first, or set the push's identity", "the ssh-agent's first key: %v", err)
	}
	k.Source = "ssh-agent"
	return k, nil
}

// ParseLoginKey checks one authorized_keys line: a single public key with
// an optional comment and no options. Quotes and control
// characters (a newline above all) are refused: the line is typed into the
// board's shell between single quotes, and nothing in it may end the quote,
// start a second command or reach the terminal as a control code.
func ParseLoginKey(line string) (LoginKey, error) {
	if line == "" {
		return LoginKey{}, errors.New("the public key is empty")
	}
	for _, r := range line {
		switch {
		case r == '\'' || r == '"' || r == '`':
			return LoginKey{}, fmt.Errorf("the public key line holds a quote (%c): refused, it is typed into the board's shell between quotes", r)
		case r == '\n' || r == '\r':
			return LoginKey{}, errors.New("the public key is more than one line: refused")
		case r < 0x20 || r == 0x7f:
			return LoginKey{}, fmt.Errorf("the public key line holds a control character %U: refused", r)
		}
	}
	pub, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return LoginKey{}, fmt.Errorf("not an SSH public key: %v", err)
	}
	if len(options) > 0 || len(rest) > 0 {
		return LoginKey{}, errors.New("expected one public key without options")
	}
	_ = comment
	return LoginKey{Line: line, Type: pub.Type(), Fingerprint: remote.Fingerprint(pub)}, nil
}
