package serialcon

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/step"
)

func TestWatcherOnAGXOrinAssertTranscript(t *testing.T) {
	s := watchAll(transcript(t, "serial-01-agx-orin-r36-uefi-micro-usb-debug.txt"))
	if got := stageIDs(s); !reflect.DeepEqual(got, []string{StageMB2, StageUEFI}) {
		t.Errorf("stages %v", got)
	}
	if v := s.Last(FactFirmwareVersion); v != "36.4.4-gcid-41062509" {
		t.Errorf("firmware version %q", v)
	}
	if e := s.Last(FactError); !strings.HasPrefix(e, "ASSERT [XhciDxe]") || !strings.Contains(e, "Interval >= 1") {
		t.Errorf("error %q", e)
	}
	// The RCE firmware's "[ 6.318531]" lines look like a kernel's but are
	// not; MB1's version-like numbers are not addresses.
	if s.Reached(StageKernel) || s.Last(FactIP) != "" {
		t.Errorf("false stage or fact: %+v", s)
	}
}

func TestWatcherOnUEFIToNixOSLoginTranscript(t *testing.T) {
	s := watchAll(transcript(t, "serial-03-agx-orin-uefi-to-nixos-login.txt"))
	want := []string{StageUEFI, StageUEFIMenu, StageKernel, StageLogin, StageShell}
	if got := stageIDs(s); !reflect.DeepEqual(got, want) {
		t.Errorf("stages %v, want %v", got, want)
	}
	facts := map[string]string{
		FactFirmwareVersion: "35.3.1",
		FactNixOSVersion:    "23.11pre-git",
		FactHostname:        "net-vm",
	}
	for id, v := range facts {
		if got := s.Last(id); got != v {
			t.Errorf("fact %s = %q, want %q", id, got, v)
		}
	}
	if s.Stages[2].Line != "EFI stub: Booting Linux Kernel..." {
		t.Errorf("kernel stage line %q", s.Stages[2].Line)
	}
}

func TestWatcherOnRealEDK2Shell(t *testing.T) {
	s := watchAll(qemuCapture(t))
	if got := stageIDs(s); !reflect.DeepEqual(got, []string{StageUEFI, StageShell}) {
		t.Errorf("stages %v", got)
	}
	// Generic EDK2 leaves the version empty: no fact rather than a blank one.
	if v, ok := lastFact(s, FactFirmwareVersion); ok {
		t.Errorf("firmware version %q from an empty field", v)
	}
}

func lastFact(s Summary, id string) (string, bool) {
	for _, f := range s.Facts {
		if f.Fact == id {
			return f.Value, true
		}
	}
	return "", false
}

func TestWatcherComposedNixOSBoot(t *testing.T) {
	boot := strings.Join([]string{
		"[0000.061] I> MB1 (version: 1.4.0.1-t234-54845784-08e631ca)",
		"[0000.066] I> Boot-mode : Coldboot",
		"[0003.456] I> MB2 (version: 0.0.0.0-t234-54845784-562369e5)",
		"CPU switching to normal world boot",
		"Jetson UEFI firmware (version 36.4.3-0a1b2c3d4e5f built on 1980-01-01T00:00:00+00:00)",
		"ESC   to enter Setup.",
		"F11   to enter Boot Manager Menu.",
		"EFI stub: Booting Linux Kernel...",
		"[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd421]",
		"<<< NixOS Stage 1 >>>",
		"[    5.1] Last login: Tue Nov 21 10:00:00 on ttyTCU0",
		"<<< NixOS Stage 2 >>>",
		"running activation script...",
		"[   12.0] dhcpcd[812]: eth0: leased 192.168.1.57 for 86400 seconds",
		"<<< Welcome to NixOS 25.11.20260118.77ef7a2 (aarch64) - ttyTCU0 >>>",
		"nixos login: nixos (automatic login)",
		"",
		"\x1b[1;32m[nixos@nixos:~]$\x1b[0m ip -4 addr show eth0",
		"    inet 192.168.1.57/24 brd 192.168.1.255 scope global dynamic eth0",
		"256 SHA256:Xu1Mu1WFn3o1FE8RVk5UK0EzGjQ9pT7xOKZ+3c9Nvyk root@nixos (ED25519)",
		"[   40.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100",
		"",
	}, "\r\n") + "\x1b[1;32m[nixos@nixos:~]$\x1b[0m "
	s := watchAll([]byte(boot))
	want := []string{StageMB1, StageMB2, StageUEFI, StageUEFIMenu, StageKernel, StageNixOS1, StageNixOS2, StageLogin, StageShell}
	if got := stageIDs(s); !reflect.DeepEqual(got, want) {
		t.Errorf("stages %v\nwant   %v", got, want)
	}
	for id, v := range map[string]string{
		FactFirmwareVersion: "36.4.3-0a1b2c3d4e5f", FactNixOSVersion: "25.11.20260118.77ef7a2", FactHostname: "nixos",
		FactIP: "192.168.1.57", FactHostKey: "SHA256:Xu1Mu1WFn3o1FE8RVk5UK0EzGjQ9pT7xOKZ+3c9Nvyk",
	} {
		if got := s.Last(id); got != v {
			t.Errorf("fact %s = %q, want %q", id, got, v)
		}
	}
	if n := countFacts(s, FactIP); n != 1 {
		t.Errorf("the address was reported %d times; once is enough (broadcast and version numbers are not addresses)", n)
	}
	if e := s.Last(FactError); !strings.HasPrefix(e, "[   40.1] Kernel panic") {
		t.Errorf("error %q", e)
	}
}

func countFacts(s Summary, id string) int {
	n := 0
	for _, f := range s.Facts {
		if f.Fact == id {
			n++
		}
	}
	return n
}

func TestWatcherPromptsNeedTheBoardToWait(t *testing.T) {
	var s Summary
	w := NewWatcher(s.add)
	w.Idle("Last login: ", time.Time{})
	w.Idle("[    3.2] probing ", time.Time{})
	w.Idle("Shell> v", time.Time{}) // the person is typing
	if len(s.Stages) != 0 {
		t.Fatalf("not prompts: %+v", s.Stages)
	}
	w.Idle("FS0:\\EFI\\> ", time.Time{})
	w.Idle("jetson-42 login: ", time.Time{})
	w.Idle("root@jetson-42:~# ", time.Time{})
	if got := stageIDs(s); !reflect.DeepEqual(got, []string{StageShell, StageLogin, StageShell}) {
		t.Errorf("stages %v", got)
	}
	if s.Last(FactHostname) != "jetson-42" {
		t.Errorf("hostname %q", s.Last(FactHostname))
	}
}

func TestWatcherReportsAReboot(t *testing.T) {
	one := "Jetson UEFI firmware (version 35.3.1 built on 1980-01-01T00:00:00+00:00)\r\nEFI stub: Booting Linux Kernel...\r\n"
	s := watchAll([]byte(one + one))
	if got := stageIDs(s); !reflect.DeepEqual(got, []string{StageUEFI, StageKernel, StageUEFI, StageKernel}) {
		t.Errorf("stages %v", got)
	}
}

func TestScanReadsRawAndTextLogs(t *testing.T) {
	raw := transcript(t, "serial-03-agx-orin-uefi-to-nixos-login.txt")
	var events []step.Event
	sum, _, err := Scan(bytes.NewReader(raw), nil, step.SinkFunc(func(e step.Event) { events = append(events, e) }))
	if err != nil || !sum.Reached(StageLogin) || len(events) != len(sum.Stages)+len(sum.Facts) {
		t.Fatalf("raw scan: %v %+v (%d events)", err, sum, len(events))
	}

	// The same boot through the session's text log: the times come back.
	var log bytes.Buffer
	tl := newTextLog(&log)
	at := time.Date(2026, 11, 21, 10, 15, 3, 123e6, time.UTC)
	tl.marker(at, "connected to /dev/ttyACM0 (115200 8N1)")
	c := newCooker(func(l string, _ time.Time) { tl.line(at, l); at = at.Add(time.Second) })
	c.feed(raw, at)
	c.flush()
	tl.flush()
	if !strings.HasPrefix(log.String(), "2026-11-21T10:15:03.123Z  --- jetup: connected") {
		t.Fatalf("text log starts %q", log.String()[:60])
	}
	sum2, _, err := Scan(&log, nil, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stageIDs(sum2), stageIDs(sum)) || sum2.Last(FactHostname) != "net-vm" {
		t.Errorf("text scan %v vs raw %v", stageIDs(sum2), stageIDs(sum))
	}
	if sum2.Stages[0].At.IsZero() || !sum2.Stages[1].At.After(sum2.Stages[0].At) {
		t.Errorf("stage times not taken from the log: %v %v", sum2.Stages[0].At, sum2.Stages[1].At)
	}
}

func TestScanStopsAtUntil(t *testing.T) {
	raw := transcript(t, "serial-03-agx-orin-uefi-to-nixos-login.txt")
	kernel, _ := ParseUntil(StageKernel)
	sum, matched, err := Scan(bytes.NewReader(raw), kernel, step.Discard)
	if err != nil || !matched || sum.LastStage() != StageKernel {
		t.Errorf("until kernel: %v %v %v", stageIDs(sum), matched, err)
	}
	re, _ := ParseUntil(`Loaded initrd`)
	if _, matched, _ := Scan(bytes.NewReader(raw), re, step.Discard); !matched {
		t.Error("regex not matched")
	}
	never, _ := ParseUntil(StageNixOS2)
	if _, matched, _ := Scan(bytes.NewReader(raw), never, step.Discard); matched {
		t.Error("stage 2 is not in this log")
	}
	if _, err := ParseUntil("log(in"); err == nil || !strings.Contains(err.Error(), "mb1, mb2") {
		t.Errorf("a bad --until must list the stages: %v", err)
	}
}

func TestParseEscapes(t *testing.T) {
	b, err := ParseEscapes(`\e\x1b[23~ver\r\\n`)
	if err != nil || string(b) != "\x1b\x1b[23~ver\r\\n" {
		t.Errorf("%q %v", b, err)
	}
	for _, bad := range []string{`\q`, `\x1`, `\xzz`, `end\`} {
		if _, err := ParseEscapes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIsUEFIShellTellsTheFirmwareShellFromLinux(t *testing.T) {
	for line, want := range map[string]bool{
		"Shell>":                    true,
		"FS0:\\> ver":               true,
		"[nixos@nixos:~]$":          false,
		"root@jetson:~#":            false,
		"[root@nixos:/etc/ssh]# ls": false,
	} {
		if got := IsUEFIShell(line); got != want {
			t.Errorf("IsUEFIShell(%q) = %v", line, got)
		}
	}
}

// A saved text log with a 2 MiB line in its middle is judged to its end:
// the line is cut, the stages after it are still found (a bufio.Scanner
// gave up at the line with ErrTooLong).
func TestScanTextLogPastAHugeLine(t *testing.T) {
	raw := transcript(t, "serial-03-agx-orin-uefi-to-nixos-login.txt")
	var log bytes.Buffer
	tl := newTextLog(&log)
	at := time.Date(2026, 11, 21, 10, 15, 3, 123e6, time.UTC)
	c := newCooker(func(l string, _ time.Time) { tl.line(at, l); at = at.Add(time.Second) })
	c.feed(raw, at)
	c.flush()
	tl.flush()
	whole := log.String()
	cut := strings.Index(whole, "\n") + 1
	long := "2026-11-21T10:15:03.500Z  " + strings.Repeat("x", 2<<20) + "\n"
	sum, _, err := Scan(strings.NewReader(whole[:cut]+long+whole[cut:]), nil, step.Discard)
	if err != nil || !sum.Reached(StageLogin) || sum.Last(FactHostname) != "net-vm" {
		t.Errorf("%v: stages %v", err, stageIDs(sum))
	}
}

// A capture that ends at the prompt (no newline after it, as a console
// waiting for input always does) reaches --until login and --until shell
// from that last, unfinished line.
func TestScanMatchesAStageOnlyThePromptShows(t *testing.T) {
	for _, c := range []struct{ stage, tail string }{
		{StageLogin, "\r\n<<< Welcome to NixOS 24.11 (aarch64) - ttyTCU0 >>>\r\n\r\njetson-42 login: "},
		{StageShell, "\r\n[root@jetson-42:~]# "},
	} {
		until, err := ParseUntil(c.stage)
		if err != nil {
			t.Fatal(err)
		}
		sum, matched, err := Scan(strings.NewReader("[    3.200000] Run /init as init process\r\n"+c.tail), until, step.Discard)
		if err != nil || !matched || sum.LastStage() != c.stage {
			t.Errorf("until %s: stages %v, matched %v, err %v", c.stage, stageIDs(sum), matched, err)
		}
	}
}

// The serial number k has the board print is a fact; the echo of the
// command typed, and a board without one (nothing after the marker), are
// not.
func TestSerialNumberFromTheLineKPrints(t *testing.T) {
	typed := `[root@nixos:~]# printf 'jetup-serial-number: %s\n' "$(tr -d '\0' < /proc/device-tree/serial-number 2>/dev/null)"`
	s := watchAll([]byte(typed + "\r\njetup-serial-number: 1424021012345\r\n[root@nixos:~]# "))
	if got := s.Last(FactSerialNumber); got != "1424021012345" || countFacts(s, FactSerialNumber) != 1 {
		t.Errorf("serial number %q (%d facts)", got, countFacts(s, FactSerialNumber))
	}
	s = watchAll([]byte(typed + "\r\njetup-serial-number: \r\n[root@nixos:~]# "))
	if n := countFacts(s, FactSerialNumber); n != 0 {
		t.Errorf("%d serial numbers from a board without one: %q", n, s.Last(FactSerialNumber))
	}
}
