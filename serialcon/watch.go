package serialcon

import (
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Watcher recognises boot stages and facts in cooked console lines, live or
// in a saved log. It is called for every line at up to 3 Mbaud, so each line
// is tested with a few substring searches first and a regular expression
// only when one of them hits.
//
// The markers come from real consoles (assets/transcripts/serial, the EDK2
// firmware qemu boots in the tests) and from the jetpack-nixos research:
// MB1 "I> MB1 (version: ...)", MB2/TF-A "CPU switching to normal world
// boot", "Jetson UEFI firmware (version V built on D)" (generic EDK2 prints
// "UEFI firmware (version V built at ...)"), the "ESC   to enter Setup."
// countdown, "EFI stub: Booting Linux Kernel...", NixOS's "<<< NixOS Stage
// 1 >>>" and "<<< NixOS Stage 2 >>>" (scripted initrd) or systemd's
// "Welcome to NixOS ...!" lines, "<<< Welcome to NixOS V (aarch64) - tty
// >>>" then "<host> login:".
type Watcher struct {
	emit  func(any)
	stage string
	facts map[string]string
	ips   map[string]bool
	last  string          // last error line, to report a repeated one once
	found map[string]bool // findings reported in this boot
	// bannered: the current stage was entered at its banner, not from a
	// line inside it; its banner after such a line is the same boot.
	bannered bool
}

// NewWatcher calls emit with a Stage or a Fact for each one it recognises.
func NewWatcher(emit func(any)) *Watcher {
	return &Watcher{emit: emit, facts: map[string]string{}, ips: map[string]bool{}, found: map[string]bool{}}
}

// Current is the stage reached last ("" before any).
func (w *Watcher) Current() string { return w.stage }

// Facts returns the facts seen so far (the last value of each).
func (w *Watcher) Facts() map[string]string {
	c := make(map[string]string, len(w.facts))
	for k, v := range w.facts {
		c[k] = v
	}
	return c
}

func (w *Watcher) toStage(id, line string, at time.Time, bootStart bool) {
	// A stage is reported when the boot moves to it. The first-stage and
	// firmware banners are reported every time: seeing one again means the
	// board rebooted.
	if id == w.stage && (!bootStart || !w.bannered) {
		w.bannered = w.bannered || bootStart
		return
	}
	if bootStart {
		clear(w.found) // a new boot may hit the same dead end again
	}
	w.stage, w.bannered = id, bootStart
	w.emit(Stage{Stage: id, At: at, Line: clip(line)})
}

// advance moves to stage id only if the boot has not got that far: a line
// from inside a stage (MB2's task lines, L4TLauncher's, the kernel's)
// tells where a capture that started late is, but never means a reboot.
func (w *Watcher) advance(id, line string, at time.Time) {
	if stageIndex(id) > stageIndex(w.stage) {
		w.toStage(id, line, at, false)
	}
}

func (w *Watcher) fact(id, value string, at time.Time) {
	// Every fact is clipped here, not by each caller: a version number
	// taken from a board's line can be as long as the line (a garbled
	// "UEFI firmware (version ..." ran to 201 bytes in the fuzzer).
	value = clip(value)
	if value == "" {
		return
	}
	if id != FactIP && id != FactError && w.facts[id] == value {
		return
	}
	w.facts[id] = value
	w.emit(Fact{Fact: id, Value: value, At: at})
}

// clip keeps event lines short (a line may be up to maxLine runes).
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200]
		for len(s) > 0 && s[len(s)-1]&0xc0 == 0x80 {
			s = s[:len(s)-1]
		}
		if len(s) > 0 && s[len(s)-1] >= 0xc0 {
			s = s[:len(s)-1]
		}
	}
	return s
}

var (
	reFirmware   = regexp.MustCompile(`UEFI firmware \(version ([^ )]*)`)
	reSysFW      = regexp.MustCompile(`System firmware version ([^ ]+)`)
	reWelcome    = regexp.MustCompile(`<<< Welcome to NixOS ([^ ]+)`)
	reSystemdNix = regexp.MustCompile(`^Welcome to NixOS ([0-9][^ ]*)`)
	// A getty prompt: "<host> login: " (not "Last login: ...").
	reLogin = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9.-]*) login: ?`)
	// Shell prompts: NixOS "[user@host:dir]$ ", classic "user@host:dir# ",
	// and the EDK2 shell "Shell> " or "FS0:\> ".
	reNixPrompt   = regexp.MustCompile(`^\[[^\]]*?([A-Za-z0-9_.-]+)@([A-Za-z0-9.-]+):[^\]]*\][$#] ?`)
	rePlainPrompt = regexp.MustCompile(`^([A-Za-z0-9_.-]+)@([A-Za-z0-9.-]+):[^$#\s]*[$#] ?`)
	reUEFIPrompt  = regexp.MustCompile(`^(Shell|FS[0-9]+:[^>]*)> ?`)
	reIPv4        = regexp.MustCompile(`\b(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}\b`)
	reHostKey     = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]{43}`)
	// The line k has the board print (deploy.SerialMarker); the echo of
	// the typed command does not start the line.
	reSerialNumber = regexp.MustCompile(`^jetup-serial-number: ([A-Za-z0-9][A-Za-z0-9._-]{0,63})\s*$`)
	// MB1/MB2's log lines: "[0000.061] I> ..." (MB2 on Orin prints no
	// time stamp: "I> Task: ...").
	reTegraLog   = regexp.MustCompile(`\[\d{4}\.\d{3}\] [IWEC]> `)
	reTegraPlain = regexp.MustCompile(`^\s*[IWEC]> `)
	// The kernel's "[    1.514127] " (five columns of seconds; the RCE
	// firmware's "[ 6.318531]" is not the kernel's).
	reKernelTime = regexp.MustCompile(`^\[[ \d]{5}\.\d{6}\] `)
	reUBoot      = regexp.MustCompile(`^U-Boot (\d{4}\.\d{2}\S*)`)
	rePiEEPROM   = regexp.MustCompile(`RPi: BOOTLOADER release VERSION:(\S+) DATE: (\w+ +\d+ \d{4})`)
	reRPiModel   = regexp.MustCompile(`^RPI [0-9].*\(0x[0-9a-f]+\)$`)
)

// mb2Hints are words only MB2 (and what it starts before UEFI) prints in
// the common log format: its secure-world hand-off (BL31/BL32, Hafnium on
// Thor), NVDisp-Init on Xavier, the CPU-BL parameters.
var mb2Hints = []string{"BL31", "BL32", "Hafnium", "NVDisp-Init", "CPU-BL", "TBoot-BPMP", "Welcome to MB2"}

// inside are lines from inside a stage: a capture that starts after the
// stage's banner still shows where the boot is. Prefixes unless noted.
var inside = []struct {
	stage  string
	pats   []string
	prefix bool
}{
	{StageMB2, []string{"I/TC: "}, true}, // OP-TEE, started by MB2
	{StageFirmware, []string{"PM_RSTS:", "Boot mode: ", "Initialising SDRAM", "Raspberry Pi Bootcode", "Read start"}, true},
	{StageUBoot, []string{"Hit any key to stop autoboot", "Retrieving file: ", "Scanning mmc ", "switch to partitions #",
		"Found /extlinux/extlinux.conf", "Enter choice: ", "Starting kernel ...", "## Flattened Device Tree blob"}, true},
	{StageUEFI, []string{"L4TLauncher:", "ExtLinuxBoot:", "ProcessExtLinuxConfig", "OpenAndReadUntrustedFileToBuffer",
		"Could not locate device tree fixup protocol", "**  WARNING: Test Key is used.  **", "BdsDxe: ",
		"ASSERT [", "Synchronous Exception at"}, false},
	{StageKernel, []string{"EFI stub: ", "Linux version ", "Machine model: ", "Kernel command line: "}, true},
	{StageNixOS1, []string{"loading module ", "running udev..."}, true},
	{StageNixOS2, []string{"running activation script...", "setting up /etc..."}, true},
}

// within recognises a line from inside a stage.
func (w *Watcher) within(line string, at time.Time) bool {
	l := strings.TrimLeft(line, " `")
	if strings.Contains(l, "> ") {
		if plain := reTegraPlain.MatchString(l); plain || reTegraLog.MatchString(l) {
			st := StageMB1
			if plain || containsAny(l, mb2Hints) {
				st = StageMB2 // Orin's MB2 prints no time stamps
			}
			w.advance(st, line, at)
			return true
		}
	}
	if l != "" && l[0] == '[' && reKernelTime.MatchString(l) {
		w.advance(StageKernel, line, at)
		return true
	}
	for _, in := range inside {
		for _, p := range in.pats {
			if in.prefix && strings.HasPrefix(l, p) || !in.prefix && strings.Contains(l, p) {
				w.advance(in.stage, line, at)
				return true
			}
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// IsUEFIShell reports whether a shell stage's line is the EDK2 shell's
// prompt (Shell>, FS0:\>) rather than a Linux shell's: only a Linux shell
// runs commands such as ssh-keygen.
func IsUEFIShell(line string) bool { return reUEFIPrompt.MatchString(strings.TrimLeft(line, " ")) }

// Line examines one finished line that began at at.
func (w *Watcher) Line(line string, at time.Time) {
	if len(line) < 3 {
		return
	}
	w.stages(line, at, false)
	w.facts1(line, at)
	w.findings(line, at)
}

// Idle examines the unfinished line when the board has paused after it:
// that is how prompts ("nixos login: ", "Shell> ") end.
func (w *Watcher) Idle(partial string, at time.Time) {
	if len(partial) < 2 {
		return
	}
	w.prompts(partial, at, true)
}

func (w *Watcher) stages(line string, at time.Time, idle bool) {
	switch {
	case strings.Contains(line, "MB1 (version") || strings.Contains(line, "MB1 (prd-version"):
		w.toStage(StageMB1, line, at, true)
	case strings.Contains(line, "RPi: BOOTLOADER release"):
		w.toStage(StageFirmware, line, at, true)
		if m := rePiEEPROM.FindStringSubmatch(line); m != nil {
			w.fact(FactFirmwareVersion, m[1]+" ("+m[2]+")", at)
		}
	case strings.HasPrefix(line, "U-Boot 20"):
		w.toStage(StageUBoot, line, at, true)
		if m := reUBoot.FindStringSubmatch(line); m != nil {
			w.fact(FactFirmwareVersion, "U-Boot "+m[1], at)
		}
	case strings.Contains(line, "MB2 (version") || strings.Contains(line, "CPU switching to normal world boot") ||
		strings.HasPrefix(line, "NOTICE:  BL31: v"):
		w.toStage(StageMB2, line, at, false)
	case strings.Contains(line, "UEFI firmware (version"):
		w.toStage(StageUEFI, line, at, true)
		if m := reFirmware.FindStringSubmatch(line); m != nil {
			w.fact(FactFirmwareVersion, m[1], at)
		}
	case strings.Contains(line, "System firmware version "):
		w.toStage(StageUEFI, line, at, true)
		if m := reSysFW.FindStringSubmatch(line); m != nil {
			w.fact(FactFirmwareVersion, m[1], at)
		}
	case strings.Contains(line, "to enter Setup") || strings.Contains(line, "to enter Boot Manager") ||
		strings.Contains(line, "Press ESCAPE for boot options"):
		w.toStage(StageUEFIMenu, line, at, false)
	case strings.Contains(line, "EFI stub: Booting Linux Kernel") || strings.Contains(line, "Booting Linux on physical CPU") ||
		strings.Contains(line, "] Linux version "):
		w.toStage(StageKernel, line, at, false)
	case strings.Contains(line, "<<< NixOS Stage 1 >>>"):
		w.toStage(StageNixOS1, line, at, false)
	case strings.Contains(line, "<<< NixOS Stage 2 >>>"):
		w.toStage(StageNixOS2, line, at, false)
	case strings.Contains(line, "Welcome to NixOS"):
		w.welcome(line, at)
	case w.within(line, at):
	default:
		w.prompts(line, at, idle)
	}
	w.model(line, at)
}

// model reports the board the kernel or U-Boot names.
func (w *Watcher) model(line string, at time.Time) {
	l := strings.TrimSpace(line)
	switch {
	case strings.Contains(l, "Machine model: "):
		_, m, _ := strings.Cut(l, "Machine model: ")
		w.fact(FactModel, clip(m), at)
	case strings.HasPrefix(l, "Model: "):
		w.fact(FactModel, clip(strings.TrimPrefix(l, "Model: ")), at)
	case strings.HasPrefix(l, "RPI ") && reRPiModel.MatchString(l):
		w.fact(FactModel, clip(l), at)
	}
}

// welcome handles the NixOS greeting lines: getty's "<<< Welcome to NixOS
// V ... >>>" (a version, the login prompt follows) and systemd's "Welcome to
// NixOS V (Name)!" (in the initrd it says "(Initrd)").
func (w *Watcher) welcome(line string, at time.Time) {
	if m := reWelcome.FindStringSubmatch(line); m != nil {
		w.fact(FactNixOSVersion, m[1], at)
		return
	}
	if m := reSystemdNix.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
		if strings.Contains(line, "(Initrd)") {
			w.toStage(StageNixOS1, line, at, false)
			return
		}
		w.toStage(StageNixOS2, line, at, false)
		w.fact(FactNixOSVersion, m[1], at)
	}
}

// prompts recognises login and shell prompts at the start of a line. On a
// finished line the person's input follows the prompt; on an idle partial
// line the prompt must end it.
func (w *Watcher) prompts(line string, at time.Time, idle bool) {
	if idle {
		line = strings.TrimLeft(line, " ")
	}
	if strings.Contains(line, " login:") {
		m := reLogin.FindStringSubmatch(line)
		if m != nil && m[1] != "Last" && (!idle || strings.HasSuffix(strings.TrimRight(line, " "), "login:")) {
			w.toStage(StageLogin, line, at, false)
			w.fact(FactHostname, m[1], at)
			return
		}
	}
	if strings.Contains(line, "> ") || idle && strings.HasSuffix(line, ">") {
		if m := reUEFIPrompt.FindStringIndex(line); m != nil && (!idle || m[1] == len(line)) {
			w.toStage(StageShell, line, at, false)
			return
		}
	}
	if strings.IndexByte(line, '@') > 0 && strings.ContainsAny(line, "$#") {
		m := reNixPrompt.FindStringSubmatchIndex(line)
		if m == nil {
			m = rePlainPrompt.FindStringSubmatchIndex(line)
		}
		if m != nil && (!idle || m[1] == len(line)) {
			w.toStage(StageShell, line, at, false)
			w.fact(FactHostname, line[m[4]:m[5]], at)
		}
	}
}

// errorMarkers are lines that mean the boot went wrong: EDK2 asserts and
// exceptions, MB1/MB2 error lines, kernel panics and oopses, and NixOS's
// stage 1 failure.
var errorMarkers = []string{
	"ASSERT [", "ASSERT_EFI_ERROR", "Synchronous Exception", "Kernel panic - not syncing", "Internal error: Oops",
	"] E> ", "An error occurred in stage 1",
}

// ipHints are words a line that prints an address carries ("inet
// 192.168.1.5/24", "IP address: ...", dhcpcd's "leased ..."); without one a
// dotted quad is more likely a version (MB1's "1.4.0.1-t234").
var ipHints = []string{"inet", "IP", "ip", "addr", "Addr", "leased", "IPv4"}

func (w *Watcher) facts1(line string, at time.Time) {
	for _, m := range errorMarkers {
		if strings.Contains(line, m) {
			if line != w.last {
				w.last = line
				w.fact(FactError, line, at)
			}
			break
		}
	}
	if strings.Count(line, ".") >= 3 {
		for _, h := range ipHints {
			if strings.Contains(line, h) {
				w.addresses(line, at)
				break
			}
		}
	}
	if strings.HasPrefix(line, "jetup-serial-number: ") {
		if m := reSerialNumber.FindStringSubmatch(line); m != nil {
			w.fact(FactSerialNumber, m[1], at)
		}
	}
	if strings.Contains(line, "SHA256:") {
		if k := reHostKey.FindString(line); k != "" {
			w.fact(FactHostKey, k, at)
		}
	}
}

// addresses reports each new IPv4 address a line shows, leaving out
// loopback, link-local, unspecified, broadcast and netmask-like ones, and
// any that is part of a longer dotted run (a version number).
func (w *Watcher) addresses(line string, at time.Time) {
	for _, loc := range reIPv4.FindAllStringIndex(line, -1) {
		if loc[0] > 0 && (line[loc[0]-1] == '.' || line[loc[0]-1] == '-') ||
			loc[1] < len(line) && (line[loc[1]] == '-' || line[loc[1]] == '.' && loc[1]+1 < len(line) && isDigit(line[loc[1]+1])) {
			continue
		}
		a, err := netip.ParseAddr(line[loc[0]:loc[1]])
		if err != nil || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() ||
			a.As4()[0] == 255 || a.As4()[3] == 255 || a.As4()[3] == 0 {
			continue
		}
		s := a.String()
		if !w.ips[s] {
			w.ips[s] = true
			w.fact(FactIP, s, at)
		}
	}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
