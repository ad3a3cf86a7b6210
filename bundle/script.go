package bundle

import (
	_ "embed"
	"strings"

	"github.com/jetup/jetup/remote"
)

// The board side is POSIX sh, so a board needs nothing but its own Nix:
// prelude.sh (PATH and the state directory), manifest.sh (the board's
// store state as JSON) and apply.sh (check, import, switch, confirm or roll
// back). A bundle carries all three; `jetup manifest` sends the first two
// over SSH; `jetup apply` runs jetup's own copy against a bundle's payload.

//go:embed prelude.sh
var preludeSh string

//go:embed manifest.sh
var manifestSh string

// Markers around the manifest in the SSH session's output: a login shell
// may print its own lines (a motd, a chatty profile) before it.
const (
	manifestBegin = "jetup:manifest-begin"
	manifestEnd   = "jetup:manifest-end"
)

// ManifestScript is the script `jetup manifest` runs on the board over SSH:
// the board's manifest for profile between marker lines.
func ManifestScript(profile string) string {
	if profile == "" {
		profile = SystemProfile
	}
	var b strings.Builder
	b.WriteString(preludeSh)
	b.WriteString("profile=" + remote.ShellQuote(profile) + "\n")
	b.WriteString(manifestSh)
	b.WriteString("echo " + manifestBegin + "\nmanifest || echo jetup:manifest-failed\necho " + manifestEnd + "\n")
	return b.String()
}

// SystemProfile is NixOS's system profile.
const SystemProfile = "/nix/var/nix/profiles/system"
