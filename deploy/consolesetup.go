package deploy

import (
	"fmt"
	"strings"

	"github.com/jetup/jetup/remote"
)

// The NixOS installer logs `nixos` in on the console by itself, but over
// SSH nobody can log in until a public key is installed (or a password
// set), and on first contact the push needs the board's host key checked
// against what the board itself says. ConsoleSetup is the text that does
// both through the serial console, for the wizard's Watch step and for
// `jetup console --setup-ssh`: one function, so both type the same thing.

// SerialMarker starts the line on which the board prints its serial
// number (serialcon's serial-number fact).
const SerialMarker = "jetup-serial-number:"

// HostKeyFile is the board's ed25519 host key, the one OpenSSH offers first.
const HostKeyFile = "/etc/ssh/ssh_host_ed25519_key.pub"

// ConsoleSetup returns the keystrokes that, typed at the board's shell
// prompt, install key for user (root when "") and print the host key
// fingerprints, the ed25519 one last so it is the one the console step
// keeps. With key nil only the fingerprints are printed.
//
// The key goes into ~user/.ssh/authorized_keys (directory 700, file 600,
// owned by user), appended unless the same key is already there; through
// `sudo -n` unless the shell is root's, so a sudo that wants a password
// fails instead of swallowing the next lines as the password. On success
// nothing is printed for the key; a failure says so. A leading ctrl+u
// clears anything half-typed at the prompt.
func ConsoleSetup(user string, key *LoginKey) ([]byte, error) {
	lines, err := consoleSetupLines(user, key)
	if err != nil {
		return nil, err
	}
	return []byte("\x15" + strings.Join(lines, "\r") + "\r"), nil
}

func consoleSetupLines(user string, key *LoginKey) ([]string, error) {
	if user == "" {
		user = "root"
	}
	// The push's own rule (remote.CheckUser): the name is typed unquoted
	// after ~ (tilde expansion does not happen inside quotes).
	if err := remote.CheckUser(user); err != nil {
		return nil, err
	}
	var lines []string
	if key != nil {
		// Checked again here: the line must not end the quotes around it.
		if _, err := ParseLoginKey(key.Line); err != nil {
			return nil, err
		}
		lines = append(lines,
			fmt.Sprintf(`k='%s'; d=~%s/.ssh; s=; ok=; [ "$(id -u)" = 0 ] || s='sudo -n'`, key.Line, user),
			fmt.Sprintf(`$s install -d -m 700 "$d" && $s touch "$d/authorized_keys" && $s chmod 600 "$d/authorized_keys" && $s chown %s: "$d" "$d/authorized_keys" && ok=1`, user),
			fmt.Sprintf(`[ -n "$ok" ] && { $s grep -qsF "$(printf '%%s' "$k" | cut -d' ' -f2)" "$d/authorized_keys" || printf '%%s\n' "$k" | $s tee -a "$d/authorized_keys" >/dev/null; } || echo 'jetup: the key was not installed for %s'`, user),
		)
	}
	// The module's serial number (the device tree's, on a Jetson and a
	// Pi), for a bench board's label; a board without one prints nothing
	// after the marker.
	lines = append(lines, `printf '`+SerialMarker+` %s\n' "$(tr -d '\0' < /proc/device-tree/serial-number 2>/dev/null)"`)
	lines = append(lines,
		`for f in /etc/ssh/ssh_host_*_key.pub; do [ "$f" = `+HostKeyFile+` ] || ssh-keygen -lf "$f"; done; ssh-keygen -lf `+HostKeyFile+`; unset k d s f ok`)
	return lines, nil
}
