package doctor

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/jetup/jetup/assets"
)

type check func(ctx context.Context, e *env) Finding

// checks run in this order; the order is the order of the report.
var checks = []check{
	checkArch, checkNix, checkNixFeatures, checkSudo, checkLibusb, checkUdevRule,
	checkAutosuspend, checkModemManager, checkTLP, checkSerialGroup, checkNixSpace, checkAArch64Builder,
}

func checkArch(_ context.Context, e *env) Finding {
	f := Finding{ID: "arch", Title: "host architecture", Detail: e.host.Machine(), Status: OK}
	if f.Detail != "x86_64" {
		f.Status, f.BlocksFlashing = Fail, true
		f.Next = "flash from an x86_64 Linux machine: NVIDIA's flash tools (tegrarcm_v2, tegradevflash_v2) are x86_64-only and jetpack-nixos builds flash scripts only for x86_64-linux; writing media and pushing work from here"
	}
	return f
}

func checkNix(ctx context.Context, e *env) Finding {
	f := Finding{ID: "nix", Title: "nix"}
	p, err := e.host.LookPath("nix")
	if err != nil {
		f.Status, f.BlocksFlashing, f.Detail = Fail, true, "not found"
		f.Next = "install Nix (https://nixos.org/download, or `apt install nix-bin`), or give jetup flash a built script with --script"
		return f
	}
	out, err := e.host.Run(ctx, nil, p, "--version")
	if err != nil {
		f.Status, f.BlocksFlashing, f.Detail = Fail, true, fmt.Sprintf("%s does not run: %v", p, err)
		f.Next = "repair the Nix installation (`nix --version` must work), or give jetup flash a built script with --script"
		return f
	}
	f.Status, f.Detail = OK, strings.TrimSpace(string(out))
	return f
}

// nixConfFiles are read in Nix's own order; later settings win.
func nixConfFiles(e *env) []string {
	files := []string{"/etc/nix/nix.conf"}
	if x := e.host.Getenv("XDG_CONFIG_HOME"); x != "" {
		files = append(files, path.Join(x, "nix", "nix.conf"))
	} else if e.user.Home != "" {
		files = append(files, path.Join(e.user.Home, ".config", "nix", "nix.conf"))
	}
	return files
}

// experimentalFeatures returns the features enabled by the config files and
// NIX_CONFIG, following experimental-features (replaces) and
// extra-experimental-features (adds).
func experimentalFeatures(e *env) (map[string]bool, []string) {
	feats := map[string]bool{}
	var sources []string
	apply := func(name string, data []byte) {
		// Split, not a bufio.Scanner: it stops at a line over 64 KiB and
		// the settings after it would go unseen.
		for _, l := range strings.Split(string(data), "\n") {
			line, _, _ := strings.Cut(l, "#")
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "experimental-features":
				feats = map[string]bool{}
			case "extra-experimental-features":
			default:
				continue
			}
			for _, x := range strings.Fields(v) {
				feats[x] = true
			}
			sources = append(sources, name)
		}
	}
	for _, f := range nixConfFiles(e) {
		if b, err := e.host.ReadFile(f); err == nil {
			apply(f, b)
		}
	}
	if nc := e.host.Getenv("NIX_CONFIG"); nc != "" {
		apply("NIX_CONFIG", []byte(nc))
	}
	return feats, sources
}

func checkNixFeatures(_ context.Context, e *env) Finding {
	f := Finding{ID: "nix-features", Title: "nix-command and flakes"}
	feats, sources := experimentalFeatures(e)
	var missing []string
	for _, x := range []string{"nix-command", "flakes"} {
		if !feats[x] {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		f.Status, f.Detail = OK, "enabled in "+strings.Join(uniq(sources), ", ")
		return f
	}
	f.Status = Warn
	f.Detail = "not enabled: " + strings.Join(missing, ", ")
	f.Next = "jetup passes --extra-experimental-features itself; to use `nix build .#...` by hand, add `experimental-features = nix-command flakes` to your nix.conf (jetup doctor --fix does it)"
	f.fix = fixNixFeatures
	return f
}

func fixNixFeatures(ctx context.Context, e *env) (string, error) {
	line := []byte("\n# added by jetup doctor --fix\nextra-experimental-features = nix-command flakes\n")
	if e.user.Root() {
		const conf = "/etc/nix/nix.conf"
		if _, err := e.host.Run(ctx, nil, "mkdir", "-p", "/etc/nix"); err != nil {
			return "", err
		}
		if _, err := e.host.Run(ctx, line, "tee", "-a", conf); err != nil {
			return "", err
		}
		return "enabled nix-command and flakes in " + conf, nil
	}
	conf := nixConfFiles(e)[1]
	if _, err := e.host.Run(ctx, nil, "mkdir", "-p", path.Dir(conf)); err != nil {
		return "", err
	}
	if _, err := e.host.Run(ctx, line, "tee", "-a", conf); err != nil {
		return "", err
	}
	return "enabled nix-command and flakes in " + conf, nil
}

func checkSudo(_ context.Context, e *env) Finding {
	f := Finding{ID: "sudo", Title: "root for the flash"}
	if e.user.Root() {
		f.Status, f.Detail = OK, "running as root"
		return f
	}
	if p, err := e.host.LookPath("sudo"); err == nil {
		f.Status, f.Detail = OK, "sudo at "+p+" (jetup asks for the password once, before the flash)"
		return f
	}
	f.Status, f.BlocksFlashing, f.Detail = Fail, true, "not root and no sudo"
	f.Next = "install sudo and allow your user to use it, or run the flash step as root: flash.sh refuses to run without root"
	return f
}

var libusbGlobs = []string{
	"/usr/lib/x86_64-linux-gnu/libusb-1.0.so.0*", "/lib/x86_64-linux-gnu/libusb-1.0.so.0*",
	"/usr/lib64/libusb-1.0.so.0*", "/usr/lib/libusb-1.0.so.0*", "/run/current-system/sw/lib/libusb-1.0.so.0*",
	"/usr/lib/aarch64-linux-gnu/libusb-1.0.so.0*",
}

func checkLibusb(_ context.Context, e *env) Finding {
	f := Finding{ID: "libusb", Title: "libusb"}
	for _, g := range libusbGlobs {
		if m, _ := e.host.Glob(g); len(m) > 0 {
			f.Status, f.Detail = OK, m[0]
			return f
		}
	}
	f.Status, f.Detail = Warn, "libusb-1.0 not found"
	f.Next = "install libusb-1.0 (`apt install libusb-1.0-0`); without it jetup detects boards through /sys instead"
	return f
}

var udevDirs = []string{"/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"}

func checkUdevRule(_ context.Context, e *env) Finding {
	f := Finding{ID: "udev-rule", Title: "udev rule for 0955"}
	for _, dir := range udevDirs {
		files, _ := e.host.Glob(path.Join(dir, "*.rules"))
		for _, file := range files {
			b, err := e.host.ReadFile(file)
			if err != nil {
				continue
			}
			if grantsNvidia(b) {
				f.Status, f.Detail = OK, file
				return f
			}
		}
	}
	f.fix = fixUdevRule
	if e.user.Root() {
		f.Status, f.Detail = OK, "no rule, but running as root reaches the devices"
		f.Next = "install the rule for runs without root: jetup doctor --fix"
		return f
	}
	f.Status, f.Detail = Warn, "no rule gives you access to NVIDIA (0955) USB devices"
	f.Next = "jetup doctor --fix installs " + assets.UdevRuleName + " (access for the seat's user, USB autosuspend off and ModemManager kept away for Jetson devices)"
	return f
}

// grantsNvidia reports whether a rules file has a live rule for vendor 0955
// that grants access.
func grantsNvidia(rules []byte) bool {
	for _, l := range strings.Split(string(rules), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") || !strings.Contains(l, `"0955"`) {
			continue
		}
		if strings.Contains(l, "uaccess") || strings.Contains(l, "MODE=") || strings.Contains(l, "GROUP=") {
			return true
		}
	}
	return false
}

func fixUdevRule(ctx context.Context, e *env) (string, error) {
	dest := path.Join("/etc/udev/rules.d", assets.UdevRuleName)
	if _, err := runAsRoot(ctx, e.host, e.user, assets.UdevRule(), "tee", dest); err != nil {
		return "", fmt.Errorf("cannot write %s: %w", dest, err)
	}
	did := "installed " + dest
	// udevadm is missing in containers: the rule is in place and applies at
	// the next boot or udev start, so report that instead of failing.
	if _, err := runAsRoot(ctx, e.host, e.user, nil, "udevadm", "control", "--reload-rules"); err != nil {
		return did + " (udev is not running here: it applies when udev starts)", nil
	}
	_, _ = runAsRoot(ctx, e.host, e.user, nil, "udevadm", "trigger", "--subsystem-match=usb", "--attr-match=idVendor=0955")
	return did + " and reloaded udev", nil
}

const autosuspendFile = "/sys/module/usbcore/parameters/autosuspend"

func checkAutosuspend(_ context.Context, e *env) Finding {
	f := Finding{ID: "autosuspend", Title: "USB autosuspend"}
	b, err := e.host.ReadFile(autosuspendFile)
	if err != nil {
		f.Status, f.Detail = OK, "not available on this kernel"
		return f
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	switch {
	case err != nil:
		f.Status, f.Detail = Warn, fmt.Sprintf("unreadable value %q", strings.TrimSpace(string(b)))
	case v < 0:
		f.Status, f.Detail = OK, "off"
	default:
		f.Status, f.Detail = Warn, fmt.Sprintf("on, after %d s idle", v)
		f.Next = "the board re-enumerates several times while flashing and autosuspend can break that: jetup turns it off for the flash when it may, and the udev rule from --fix keeps Jetson devices awake"
	}
	return f
}

func running(e *env, names ...string) string {
	procs, _ := e.host.Processes()
	for _, p := range procs {
		for _, n := range names {
			if p == n {
				return p
			}
		}
	}
	return ""
}

func checkModemManager(_ context.Context, e *env) Finding {
	f := Finding{ID: "modemmanager", Title: "ModemManager"}
	if running(e, "ModemManager") == "" {
		f.Status, f.Detail = OK, "not running"
		return f
	}
	if rules := udevRuleText(e); strings.Contains(rules, "ID_MM_DEVICE_IGNORE") {
		f.Status, f.Detail = OK, "running, told to ignore Jetson ports by the udev rule"
		return f
	}
	f.Status, f.Detail = Warn, "running: it probes new ttyACM ports and can hold the flash gadget and the debug console for seconds"
	f.Next = "jetup doctor --fix installs a udev rule that tells it to ignore Jetson ports, or stop it: sudo systemctl stop ModemManager"
	f.fix = fixUdevRule
	return f
}

func udevRuleText(e *env) string {
	var b strings.Builder
	for _, dir := range udevDirs {
		files, _ := e.host.Glob(path.Join(dir, "*.rules"))
		for _, file := range files {
			if data, err := e.host.ReadFile(file); err == nil && grantsNvidia(data) {
				b.Write(data)
			}
		}
	}
	return b.String()
}

func checkTLP(_ context.Context, e *env) Finding {
	f := Finding{ID: "tlp", Title: "TLP power management"}
	if _, err := e.host.LookPath("tlp"); err != nil {
		f.Status, f.Detail = OK, "not installed"
		return f
	}
	f.Status, f.Detail = Warn, "installed: it can autosuspend USB devices during the flash"
	f.Next = "set USB_AUTOSUSPEND=0 in /etc/tlp.conf (then `sudo tlp start`) while flashing, or remove tlp (OE4T's advice)"
	return f
}

func checkSerialGroup(_ context.Context, e *env) Finding {
	f := Finding{ID: "serial-group", Title: "serial port access"}
	if e.user.Root() {
		f.Status, f.Detail = OK, "running as root"
		return f
	}
	group := serialGroup(e)
	if e.user.InGroup(group) {
		f.Status, f.Detail = OK, "member of "+group
		return f
	}
	f.Status, f.Detail = Warn, fmt.Sprintf("%s is not in the %s group: the debug console cannot be opened", e.user.Name, group)
	f.Next = fmt.Sprintf("jetup doctor --fix runs `sudo usermod -aG %s %s`; then log out and back in", group, e.user.Name)
	f.fix = func(ctx context.Context, e *env) (string, error) {
		if _, err := runAsRoot(ctx, e.host, e.user, nil, "usermod", "-aG", group, e.user.Name); err != nil {
			return "", err
		}
		return fmt.Sprintf("added %s to %s (log out and back in for it to apply)", e.user.Name, group), nil
	}
	return f
}

// serialGroup is the group that owns serial devices here: dialout on
// Debian/Ubuntu/Fedora, uucp on Arch.
func serialGroup(e *env) string {
	b, _ := e.host.ReadFile("/etc/group")
	for _, g := range []string{"dialout", "uucp"} {
		if bytes.Contains(b, []byte("\n"+g+":")) || bytes.HasPrefix(b, []byte(g+":")) {
			return g
		}
	}
	return "dialout"
}

// Space thresholds: jetpack-nixos builds UEFI, OP-TEE and a cross-compiled
// installer from source, which takes tens of GiB on a first build.
const (
	spaceWarn = 40 << 30
	spaceFail = 5 << 30
)

func checkNixSpace(_ context.Context, e *env) Finding {
	f := Finding{ID: "nix-space", Title: "free space for /nix"}
	where := "/nix"
	free, err := e.host.FreeBytes(where)
	if err != nil {
		where = "/"
		free, err = e.host.FreeBytes(where)
	}
	if err != nil {
		f.Status, f.Detail = Warn, "cannot tell: "+err.Error()
		return f
	}
	f.Detail = fmt.Sprintf("%.1f GiB free under %s", float64(free)/(1<<30), where)
	switch {
	case free < spaceFail:
		f.Status = Fail
		f.Next = "free space (`nix-collect-garbage -d`) or move /nix: building the flash script and installer needs tens of GiB"
	case free < spaceWarn:
		f.Status = Warn
		f.Next = "a first jetpack-nixos build can take 40 GiB; free space with `nix-collect-garbage -d` if the build runs out"
	default:
		f.Status = OK
	}
	return f
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
