package doctor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/step"
)

// A board's system is aarch64-linux; the bench host is x86_64. Nix builds
// it here only through emulation (qemu-aarch64 registered with
// binfmt_misc, and aarch64-linux in nix's extra-platforms) or on a remote
// aarch64 builder; otherwise it evaluates the whole system and then fails
// with "a 'aarch64-linux' with features {} is required to build ..., but
// I am a 'x86_64-linux'" (issue 14). People installing NixOS on a Pi report
// that building on the board itself takes all night or runs out of memory.

// binfmtDir is where the kernel lists binfmt_misc registrations.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// aarch64Magic is the ELF header binfmt_misc matches for aarch64
// executables: 64-bit little-endian, e_machine 0xb7.
const aarch64Magic = "7f454c460201010000000000000000000200b700"

// AArch64Builder is whether nix on a host can build aarch64-linux, and if
// not, what to do (the `aarch64-builder` check, and the preflight before a
// push builds a board's system).
type AArch64Builder struct {
	OK     bool
	Detail string
	Next   string
	// Distro is "nixos", "debian" (Debian, Ubuntu and their kin) or "".
	Distro string
	// emulation state, for the fix
	binfmtOK, platformsOK bool
}

// CheckAArch64Builder finds how, if at all, nix on h builds aarch64-linux.
func CheckAArch64Builder(ctx context.Context, h Host) AArch64Builder {
	u, _ := h.User()
	e := &env{host: h, user: u}
	r := AArch64Builder{Distro: distro(h)}
	if h.Machine() == "aarch64" {
		r.OK, r.Detail = true, "this host is aarch64: it builds a board's system natively"
		return r
	}
	conf := readNixConf(e)
	interp, flags, found := binfmtAArch64(h)
	sandboxed := interp != "" && inSandboxPaths(interp, conf.list("extra-sandbox-paths"))
	r.binfmtOK = found && (strings.Contains(flags, "F") || sandboxed)
	r.platformsOK = contains(conf.list("extra-platforms"), "aarch64-linux")
	if r.binfmtOK && r.platformsOK {
		how := "flag F"
		if !strings.Contains(flags, "F") {
			how = "in extra-sandbox-paths"
		}
		r.OK, r.Detail = true, fmt.Sprintf("emulated: %s registered with binfmt_misc (%s), aarch64-linux in extra-platforms", interp, how)
		return r
	}
	// A remote builder named in nix.conf (or /etc/nix/machines) that
	// builds aarch64-linux, asked whether it answers.
	var silent []string
	for _, b := range aarch64Builders(e, conf) {
		if err := pingStore(ctx, e, b); err != nil {
			silent = append(silent, fmt.Sprintf("%s (%v)", b, err))
			continue
		}
		r.OK, r.Detail = true, "remote builder "+b+" builds aarch64-linux and answers `nix store ping`"
		return r
	}
	var miss []string
	switch {
	case !found:
		miss = append(miss, "no aarch64 interpreter is registered with binfmt_misc")
	case !r.binfmtOK:
		miss = append(miss, fmt.Sprintf("%s is registered without the F flag (flags %q) and is not in nix's extra-sandbox-paths", interp, flags))
	}
	if !r.platformsOK {
		miss = append(miss, "nix.conf's extra-platforms does not list aarch64-linux")
	}
	if len(silent) > 0 {
		miss = append(miss, "the aarch64 builder named in nix.conf does not answer: "+strings.Join(silent, "; "))
	} else {
		miss = append(miss, "no aarch64 builder is named in nix.conf")
	}
	r.Detail = "this host cannot build aarch64-linux (a board's system): " + strings.Join(miss, "; ")
	r.Next = aarch64Next(r.Distro)
	return r
}

// Next steps: the NixOS module option and the Debian/Ubuntu packages,
// nix.conf line and daemon restart (nixos/modules/system/boot/binfmt.nix;
// Debian's qemu-user-static registers its interpreters with the F flag).
const (
	nextNixOS  = "On NixOS: add `boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];` to /etc/nixos/configuration.nix and run `sudo nixos-rebuild switch` (it registers qemu-aarch64 and adds aarch64-linux to nix's extra-platforms), or declare an aarch64 machine in `nix.buildMachines` with `nix.distributedBuilds = true;`."
	nextDebian = "On Debian/Ubuntu: `sudo apt-get install -y qemu-user-static binfmt-support` and `sudo systemctl restart systemd-binfmt` (registers qemu-aarch64 with the F flag: `cat /proc/sys/fs/binfmt_misc/qemu-aarch64` shows it), add the line `extra-platforms = aarch64-linux` to /etc/nix/nix.conf, then `sudo systemctl restart nix-daemon` (jetup doctor --fix does these); or name an aarch64 machine in nix.conf's `builders`."
)

func aarch64Next(distro string) string {
	switch distro {
	case "nixos":
		return nextNixOS
	case "debian":
		return nextDebian
	}
	return nextNixOS + " " + nextDebian
}

func checkAArch64Builder(ctx context.Context, e *env) Finding {
	f := Finding{ID: "aarch64-builder", Title: "building aarch64-linux"}
	r := CheckAArch64Builder(ctx, e.host)
	f.Detail = r.Detail
	if r.OK {
		f.Status = OK
		return f
	}
	f.Status, f.Next = Warn, r.Next
	if r.Distro == "debian" {
		f.fix = func(ctx context.Context, e *env) (string, error) { return fixAArch64Debian(ctx, e, r) }
	}
	return f
}

// fixAArch64Debian installs qemu-user-static and binfmt-support, adds
// aarch64-linux to nix's extra-platforms and restarts the daemon: only
// what is missing.
func fixAArch64Debian(ctx context.Context, e *env, r AArch64Builder) (string, error) {
	var did []string
	if !r.binfmtOK {
		if _, err := runAsRoot(ctx, e.host, e.user, nil, "env", "DEBIAN_FRONTEND=noninteractive",
			"apt-get", "install", "-y", "qemu-user-static", "binfmt-support"); err != nil {
			return "", fmt.Errorf("installing qemu-user-static: %w", err)
		}
		did = append(did, "installed qemu-user-static and binfmt-support")
		// Ubuntu 24.04's qemu-user-static only ships a systemd-binfmt
		// file: that service registers it.
		if _, err := runAsRoot(ctx, e.host, e.user, nil, "systemctl", "restart", "systemd-binfmt"); err == nil {
			did = append(did, "restarted systemd-binfmt")
		}
	}
	if !r.platformsOK {
		const conf = "/etc/nix/nix.conf"
		line := []byte("\n# added by jetup doctor --fix: build aarch64-linux (a board's system) under qemu\nextra-platforms = aarch64-linux\n")
		if _, err := runAsRoot(ctx, e.host, e.user, nil, "mkdir", "-p", "/etc/nix"); err != nil {
			return strings.Join(did, "; "), err
		}
		if _, err := runAsRoot(ctx, e.host, e.user, line, "tee", "-a", conf); err != nil {
			return strings.Join(did, "; "), fmt.Errorf("cannot add extra-platforms to %s: %w", conf, err)
		}
		did = append(did, "added extra-platforms = aarch64-linux to "+conf)
	}
	if _, err := runAsRoot(ctx, e.host, e.user, nil, "systemctl", "restart", "nix-daemon"); err != nil {
		did = append(did, "could not restart nix-daemon (restart it yourself, or nothing to restart on a single-user install)")
	} else {
		did = append(did, "restarted nix-daemon")
	}
	return strings.Join(did, "; "), nil
}

// distro tells NixOS from the Debian family by /etc/os-release.
func distro(h Host) string {
	if _, err := h.ReadFile("/etc/NIXOS"); err == nil {
		return "nixos"
	}
	b, _ := h.ReadFile("/etc/os-release")
	var id, like string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = v
		case "ID_LIKE":
			like = v
		}
	}
	switch {
	case id == "nixos":
		return "nixos"
	case id == "debian" || id == "ubuntu" || strings.Contains(like, "debian") || strings.Contains(like, "ubuntu"):
		return "debian"
	}
	return ""
}

// binfmtAArch64 finds an enabled binfmt_misc registration for aarch64 ELF
// executables: its interpreter and flags.
func binfmtAArch64(h Host) (interp, flags string, found bool) {
	entries, _ := h.Glob(path.Join(binfmtDir, "*"))
	for _, p := range entries {
		if base := path.Base(p); base == "register" || base == "status" {
			continue
		}
		b, err := h.ReadFile(p)
		if err != nil {
			continue
		}
		var enabled bool
		var in, fl, magic string
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			switch {
			case l == "enabled":
				enabled = true
			case strings.HasPrefix(l, "interpreter "):
				in = strings.TrimSpace(strings.TrimPrefix(l, "interpreter "))
			case strings.HasPrefix(l, "flags:"):
				fl = strings.TrimSpace(strings.TrimPrefix(l, "flags:"))
			case strings.HasPrefix(l, "magic "):
				magic = strings.TrimSpace(strings.TrimPrefix(l, "magic "))
			}
		}
		if enabled && strings.HasPrefix(magic, aarch64Magic) {
			return in, fl, true
		}
	}
	return "", "", false
}

func inSandboxPaths(interp string, paths []string) bool {
	for _, p := range paths {
		p, _, _ = strings.Cut(p, "=") // "/run/binfmt=/nix/store/..." maps a path
		p = strings.TrimSuffix(p, "?")
		if p != "" && (interp == p || strings.HasPrefix(interp, strings.TrimSuffix(p, "/")+"/")) {
			return true
		}
	}
	return false
}

// nixConf is the settings nix.conf files and NIX_CONFIG give, in Nix's
// order: "name = v" replaces, "extra-name = v" adds.
type nixConf map[string][]string

func (c nixConf) list(name string) []string { return c[name] }

func readNixConf(e *env) nixConf {
	c := nixConf{}
	apply := func(data []byte) {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k = strings.TrimSpace(k)
			vals := strings.Fields(v)
			if k == "builders" || k == "extra-builders" { // entries are separated by ; or newlines
				vals = splitBuilders(v)
			}
			switch {
			case strings.HasPrefix(k, "extra-extra-"):
				k = strings.TrimPrefix(k, "extra-")
				c[k] = append(c[k], vals...)
			case k == "extra-platforms" || k == "extra-sandbox-paths":
				c[k] = append(c[k], vals...)
			case strings.HasPrefix(k, "extra-"):
				k = strings.TrimPrefix(k, "extra-")
				c[k] = append(c[k], vals...)
			default:
				c[k] = vals
			}
		}
	}
	for _, f := range nixConfFiles(e) {
		if b, err := e.host.ReadFile(f); err == nil {
			apply(b)
		}
	}
	if nc := e.host.Getenv("NIX_CONFIG"); nc != "" {
		apply([]byte(nc))
	}
	return c
}

func splitBuilders(v string) []string {
	var out []string
	for _, b := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == '\n' }) {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// aarch64Builders are the store URIs of the builders that build
// aarch64-linux: nix.conf's builders, or the machines file it names
// ("@/etc/nix/machines", Nix's default).
func aarch64Builders(e *env, c nixConf) []string {
	entries, ok := c["builders"]
	if !ok {
		entries = []string{"@/etc/nix/machines"}
	}
	var lines []string
	for _, b := range entries {
		if file, isFile := strings.CutPrefix(b, "@"); isFile {
			data, err := e.host.ReadFile(file)
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(data), "\n") {
				if l, _, _ = strings.Cut(l, "#"); strings.TrimSpace(l) != "" {
					lines = append(lines, l)
				}
			}
			continue
		}
		lines = append(lines, b)
	}
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && contains(strings.Split(f[1], ","), "aarch64-linux") {
			out = append(out, f[0])
		}
	}
	return out
}

// pingStore asks a builder's store whether it answers: `nix store ping`
// (an alias of `nix store info` since Nix 2.19), with the flags every
// jetup nix call has.
func pingStore(ctx context.Context, e *env, uri string) error {
	nix, err := e.host.LookPath("nix")
	if err != nil {
		return err
	}
	_, err = e.host.Run(ctx, nil, nix, (*nixrun.Nix)(nil).Args("store", "ping", "--store", uri)...)
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AArch64Preflight is the Nix runner's PreBuild check (nixrun.Nix): a
// build of an aarch64-linux system (a board's, for push and the steps that
// build the same way) on a host that cannot build aarch64-linux stops
// before nix evaluates anything, with the next step, instead of after a
// long evaluation with nix's "a 'aarch64-linux' with features {} is
// required to build ..., but I am a 'x86_64-linux'".
func AArch64Preflight(h Host) func(ctx context.Context, b nixrun.Build) error {
	return func(ctx context.Context, b nixrun.Build) error {
		if b.System != "aarch64-linux" {
			return nil
		}
		r := CheckAArch64Builder(ctx, h)
		if r.OK {
			return nil
		}
		return step.Refuse("no-aarch64-builder",
			r.Next+" A system cross-compiled on this host can be built by hand (nix build) and pushed with --closure.",
			"cannot build %s here: %s", b.Installable, strings.TrimPrefix(r.Detail, "this host cannot build aarch64-linux (a board's system): "))
	}
}
