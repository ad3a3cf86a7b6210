package bundle

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// signingKey is a Nix secret key file ("name:base64 of the 64-byte ed25519
// key", as nix key generate-secret writes it). jetup never prints or logs
// the secret: nix reads the file itself to sign the paths, and jetup reads
// it only to sign the bundle's header (nixSecret).
type signingKey struct {
	file   string
	public string // "name:base64 of the 32-byte public key"
}

// DefaultKeyFile is where jetup keeps its own bundle signing key.
func DefaultKeyFile(keyDir string) string { return filepath.Join(keyDir, "bundle-signing.sec") }

var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// loadKey reads the signing key, making jetup's own the first time none
// is given.
func loadKey(ctx context.Context, nix *nixrun.Nix, file, dir string) (signingKey, error) {
	if file == "" {
		if dir == "" {
			return signingKey{}, step.Refuse("usage", "pass --sign-key FILE (nix key generate-secret --key-name NAME > FILE)", "no signing key")
		}
		file = DefaultKeyFile(dir)
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			if err := makeKey(ctx, nix, file); err != nil {
				return signingKey{}, err
			}
		}
	}
	raw, err := safe.ReadFile(file, 4096)
	if err != nil {
		return signingKey{}, step.Refuse("bad-key", "pass --sign-key with a Nix secret key file (nix key generate-secret --key-name NAME > FILE)", "%v", err)
	}
	name, pub, err := publicOf(strings.TrimSpace(string(raw)))
	if err != nil {
		return signingKey{}, step.Refuse("bad-key", "pass --sign-key with a Nix secret key file (nix key generate-secret --key-name NAME > FILE)", "%s: %v", file, err)
	}
	abs, _ := filepath.Abs(file)
	return signingKey{file: abs, public: name + ":" + pub}, nil
}

// publicOf is the public half of a Nix secret key: an ed25519 private key
// ends with its public key.
func publicOf(secret string) (name, public string, err error) {
	name, b64, ok := strings.Cut(secret, ":")
	if !ok || !keyNameRE.MatchString(name) {
		return "", "", fmt.Errorf("not a Nix secret key (name:base64)")
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != 64 {
		return "", "", fmt.Errorf("not a Nix secret key (64 bytes of ed25519 key after the name)")
	}
	return name, base64.StdEncoding.EncodeToString(b[32:]), nil
}

// makeKey makes jetup's own key with nix key generate-secret, its public
// half beside it (.pub) for the boards' trusted-public-keys.
func makeKey(ctx context.Context, nix *nixrun.Nix, file string) error {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return -1
	}, host)
	if host == "" {
		host = "host"
	}
	out, err := nix.Run(ctx, nixrun.Call{Args: []string{"key", "generate-secret", "--key-name", "jetup-" + host + "-1"}})
	if err != nil {
		return step.Errorf("bad-key", "pass --sign-key FILE (nix key generate-secret --key-name NAME > FILE)", "nix key generate-secret: %s", nixrun.ReasonOf(err))
	}
	secret := strings.TrimSpace(string(out))
	name, pub, err := publicOf(secret)
	if err != nil {
		return step.Errorf("bad-key", "pass --sign-key FILE", "nix key generate-secret printed %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return step.Errorf("bad-key", "check that the state dir is writable", "%v", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(file, ".sec")+".pub", []byte(name+":"+pub+"\n"), 0o644)
}

// nixSecret is a Nix secret key in memory, for the header's signature.
type nixSecret struct {
	name string
	key  ed25519.PrivateKey
}

// readSecret reads the key file the bundle is signed with.
func (k signingKey) readSecret() (nixSecret, error) {
	raw, err := safe.ReadFile(k.file, 4096)
	if err != nil {
		return nixSecret{}, err
	}
	name, b64, _ := strings.Cut(strings.TrimSpace(string(raw)), ":")
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != ed25519.PrivateKeySize {
		return nixSecret{}, fmt.Errorf("%s: not a Nix secret key", k.file)
	}
	return nixSecret{name: name, key: ed25519.PrivateKey(b)}, nil
}

// sign is a narinfo's Sig value for fingerprint: "name:base64(ed25519)".
func (s nixSecret) sign(fingerprint string) string {
	return s.name + ":" + base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, []byte(fingerprint)))
}
