package sim

import (
	"crypto/rsa"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"
)

// The simulated board's shell, once the installer has logged `nixos` in:
// it answers what jetup's Watch step types there (deploy.ConsoleSetup) as
// the installer's bash does. Installing a key prints nothing; ssh-keygen
// -lf prints a host key's fingerprint line. Any other command prints
// nothing, as most quiet commands do.

// hostKeyFile names one of the board's host key files.
var hostKeyFile = regexp.MustCompile(`ssh-keygen -lf (/etc/ssh/ssh_host_([a-z0-9]+)_key\.pub)`)

// hostKeyLoop is the loop that prints every host key but the ed25519 one
// (deploy.ConsoleSetup prints that one last).
const hostKeyLoop = "for f in /etc/ssh/ssh_host_*_key.pub; do"

// serialCommand reads the module's serial number (deploy.ConsoleSetup).
const serialCommand = "/proc/device-tree/serial-number"

// run answers one command line typed at the prompt.
func (b *Board) run(line string) []byte {
	var out strings.Builder
	if strings.Contains(line, serialCommand) {
		out.WriteString("jetup-serial-number: " + b.opt.SerialNumber + "\r\n")
	}
	if strings.Contains(line, hostKeyLoop) {
		for _, k := range b.opt.HostKeys {
			if keyFileType(k) != "ed25519" {
				out.WriteString(keygenLine(k))
			}
		}
		// The loop's own "ssh-keygen -lf "$f"" names no file.
	}
	for _, m := range hostKeyFile.FindAllStringSubmatch(line, -1) {
		k := b.hostKey(m[2])
		if k == nil {
			out.WriteString(m[1] + ": No such file or directory\r\n")
			continue
		}
		out.WriteString(keygenLine(k))
	}
	return []byte(out.String())
}

func (b *Board) hostKey(typ string) ssh.PublicKey {
	for _, k := range b.opt.HostKeys {
		if keyFileType(k) == typ {
			return k
		}
	}
	return nil
}

// keyFileType is the key's part of its file name, ssh_host_<type>_key.pub.
func keyFileType(k ssh.PublicKey) string {
	switch t := k.Type(); {
	case t == ssh.KeyAlgoED25519:
		return "ed25519"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	case t == ssh.KeyAlgoRSA:
		return "rsa"
	default:
		return t
	}
}

// keygenLine is what `ssh-keygen -lf` prints for a NixOS host key: bits,
// fingerprint, the comment sshd's key generation leaves (root@<host>), type.
func keygenLine(k ssh.PublicKey) string {
	bits, label := 256, strings.ToUpper(keyFileType(k))
	switch k.Type() {
	case ssh.KeyAlgoECDSA384:
		bits = 384
	case ssh.KeyAlgoECDSA521:
		bits = 521
	case ssh.KeyAlgoRSA:
		bits = 4096
		if ck, ok := k.(ssh.CryptoPublicKey); ok {
			if r, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok {
				bits = r.N.BitLen()
			}
		}
	}
	return fmt.Sprintf("%d %s root@nixos (%s)\r\n", bits, ssh.FingerprintSHA256(k), label)
}
