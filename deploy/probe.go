package deploy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jetup/jetup/remote"
)

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
	// Profile is the system profile's target (the generation's store
	// path): what a switch or boot set last.
	Profile string
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

// Lines is a line reader of the board shell's output: the push reads it
// with proc.LineScanner, which cuts a long line and goes on instead of
// stopping (the board would then block on output nobody reads).
type Lines interface {
	Scan() bool
	Text() string
	Err() error
}

// What a board may make the probe keep: no closure has a million paths,
// and the delta's complaint is a few lines.
const (
	maxInvalid  = 1 << 20
	maxDeltaErr = 8 << 10
)

// ParseProbe reads the probe's part of the board shell's output, up to its
// "jetup:probe_end" line; other lines (a chatty bashrc) go to other.
func ParseProbe(sc Lines, other func(string)) (Facts, error) {
	f := Facts{DeltaRC: -1}
	seen := map[string]bool{}
	for sc.Scan() {
		k, v, ok := remote.Answer(sc.Text())
		if !ok {
			if other != nil {
				other(sc.Text())
			}
			continue
		}
		seen[k] = true
		if k == "probe_end" {
			break
		}
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
		case "profile":
			f.Profile = v
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
			if len(f.Invalid) == maxInvalid {
				return f, fmt.Errorf("the board listed more than %d missing paths", maxInvalid)
			}
			f.Invalid = append(f.Invalid, v)
		case "delta_rc":
			f.DeltaRC, _ = strconv.Atoi(v)
		case "delta_err":
			if len(f.DeltaErr) < maxDeltaErr {
				f.DeltaErr = strings.TrimSpace(f.DeltaErr + "\n" + v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return f, err
	}
	if !seen["arch"] || !seen["mode"] || !seen["probe_end"] {
		return f, fmt.Errorf("the board's shell did not run jetup's probe to its end (no POSIX sh?)")
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
