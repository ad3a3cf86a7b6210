package deploy

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The probe is one shell script, run over the shared connection, that
// learns everything preflight needs and asks the board's store which of the
// closure's paths it lacks: one round trip, whatever the closure's size.
// It prints "jetup:key=value" lines; anything else (a chatty bashrc) is
// ignored.

// Facts is what the probe learnt about the board.
type Facts struct {
	Arch         string // uname -m
	UID          int
	User         string
	Hostname     string
	Priv         string // root, sudo (passwordless), none
	NixVersion   string // "2.8.0"; "" when the board has no Nix
	NixOS        bool   // /etc/NIXOS or /run/current-system
	Current      string // /run/current-system's target
	NixOSVersion string
	NixOSInstall bool // nixos-install on PATH
	MntMounted   bool // something is mounted on /mnt
	Live         bool // the live installer (/nix/.ro-store)
	SystemdRun   bool // systemd-run and a running systemd
	Generation   string
	// Mode is the activation the probe planned for (Auto resolved).
	Mode Mode
	// StoreRoot is "" for the board's own store, "/mnt" for the installer.
	StoreRoot string
	FreeBytes int64
	FreeOn    string
	// Invalid lists the closure's paths the board's store lacks; DeltaRC
	// is the query's exit status (-1 when it did not run).
	Invalid []string
	DeltaRC int
	// DeltaErr is what the query printed on stderr when it failed.
	DeltaErr string
}

const probePath = "/run/wrappers/bin:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// scriptHead starts every script: a known PATH (a NixOS login shell may not
// have run), the say helper, and sudo for a non-root user.
func scriptHead(kind string) string {
	return "# jetup:" + kind + "\n" +
		`PATH="$PATH:` + probePath + `"; export PATH
say() { printf 'jetup:%s=%s\n' "$1" "$2"; }
SUDO=
if [ "$(id -u)" != 0 ] && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
`
}

// ProbeScript is the probe for mode and the closure's paths.
func ProbeScript(mode Mode, paths []string) string {
	var b strings.Builder
	b.WriteString(scriptHead("probe"))
	b.WriteString(`say arch "$(uname -m)"
say uid "$(id -u)"
say user "$(id -un)"
say hostname "$(cat /proc/sys/kernel/hostname 2>/dev/null)"
if [ "$(id -u)" = 0 ]; then say priv root; elif [ -n "$SUDO" ]; then say priv sudo; else say priv none; fi
if command -v nix-store >/dev/null 2>&1; then say nix "$(nix-store --version 2>/dev/null | head -n 1)"; fi
[ -e /etc/NIXOS ] && say nixos yes
[ -e /run/current-system ] && say current "$(readlink -f /run/current-system)"
[ -r /run/current-system/nixos-version ] && say nixos_version "$(cat /run/current-system/nixos-version)"
command -v nixos-install >/dev/null 2>&1 && say nixos_install yes
command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ] && say systemd_run yes
mnt=no; awk '$2 == "/mnt" { f = 1 } END { exit !f }' /proc/mounts 2>/dev/null && mnt=yes && say mnt_mounted yes
[ -e /nix/.ro-store ] && say live yes
gen=$(readlink /nix/var/nix/profiles/system 2>/dev/null) && say generation "$gen"
`)
	fmt.Fprintf(&b, "mode=%s\n", mode)
	b.WriteString(`if [ -z "$mode" ]; then
  mode=switch
  [ "$mnt" = yes ] && [ -e /nix/.ro-store ] && command -v nixos-install >/dev/null 2>&1 && mode=installer
fi
say mode "$mode"
root=; [ "$mode" = installer ] && root=/mnt
say store_root "$root"
d="$root/nix"; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
say free_on "$d"
say free_kib "$(df -Pk "$d" 2>/dev/null | awk 'NR == 2 { print $4 }')"
command -v nix-store >/dev/null 2>&1 || exit 0
if [ -n "$root" ]; then set -- --store "local?root=$root"; else set --; fi
err=$(mktemp 2>/dev/null || echo /tmp/jetup-probe.$$)
( $SUDO xargs nix-store "$@" --check-validity --print-invalid 2>"$err" <<'JETUP_PATHS'
`)
	for _, p := range paths {
		b.WriteString(p + "\n")
	}
	b.WriteString(`JETUP_PATHS
  echo "rc=$?" ) | while IFS= read -r l; do
  case "$l" in rc=*) say delta_rc "${l#rc=}" ;; *) say invalid "$l" ;; esac
done
grep -v "^warning:" "$err" | head -n 5 | while IFS= read -r l; do say delta_err "$l"; done
rm -f "$err"
`)
	return b.String()
}

// ParseProbe reads the probe's output.
func ParseProbe(r io.Reader) (Facts, error) {
	f := Facts{DeltaRC: -1}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		kv, ok := strings.CutPrefix(sc.Text(), "jetup:")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		seen[k] = true
		switch k {
		case "arch":
			f.Arch = v
		case "uid":
			f.UID, _ = strconv.Atoi(v)
		case "user":
			f.User = v
		case "hostname":
			f.Hostname = v
		case "priv":
			f.Priv = v
		case "nix":
			f.NixVersion = nixVersion(v)
		case "nixos":
			f.NixOS = true
		case "current":
			f.Current, f.NixOS = v, true
		case "nixos_version":
			f.NixOSVersion = v
		case "nixos_install":
			f.NixOSInstall = true
		case "systemd_run":
			f.SystemdRun = true
		case "mnt_mounted":
			f.MntMounted = true
		case "live":
			f.Live = true
		case "generation":
			f.Generation = v
		case "mode":
			f.Mode = Mode(v)
		case "store_root":
			f.StoreRoot = v
		case "free_on":
			f.FreeOn = v
		case "free_kib":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				f.FreeBytes = n * 1024
			}
		case "invalid":
			f.Invalid = append(f.Invalid, v)
		case "delta_rc":
			f.DeltaRC, _ = strconv.Atoi(v)
		case "delta_err":
			f.DeltaErr = strings.TrimSpace(f.DeltaErr + "\n" + v)
		}
	}
	if err := sc.Err(); err != nil {
		return f, err
	}
	if !seen["arch"] || !seen["mode"] {
		return f, fmt.Errorf("the board's shell did not run jetup's probe (no POSIX sh?)")
	}
	return f, nil
}

// nixVersion takes "nix-store (Nix) 2.8.0" to "2.8.0".
func nixVersion(s string) string {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return ""
	}
	return fields[len(fields)-1]
}

// generationOf takes "system-12-link" to 12, 0 when unknown.
func generationOf(link string) int {
	s := strings.TrimSuffix(strings.TrimPrefix(link, "system-"), "-link")
	n, _ := strconv.Atoi(s)
	return n
}

// versionAtLeast compares dotted versions ("2.8.0" >= "2.4").
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := range b {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(strings.TrimFunc(a[i], func(r rune) bool { return r < '0' || r > '9' }))
		}
		y, _ = strconv.Atoi(b[i])
		if x != y {
			return x > y
		}
	}
	return true
}
