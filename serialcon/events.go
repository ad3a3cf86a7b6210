package serialcon

import (
	"fmt"
	"time"

	"github.com/jetup/jetup/step"
)

// Stage ids: where the board's boot has got to. They are an interface
// (`jetup console --json`, --until, the run record): keep them.
const (
	StageMB1      = "mb1"           // first-stage boot loader (MB1)
	StageMB2      = "mb2"           // MB2 / TF-A, up to "CPU switching to normal world boot"
	StageFirmware = "firmware"      // a Raspberry Pi's own boot firmware (EEPROM bootloader, start*.elf)
	StageUBoot    = "u-boot"        // U-Boot: its banner, autoboot countdown and extlinux menu
	StageUEFI     = "uefi"          // the UEFI banner
	StageUEFIMenu = "uefi-menu"     // "ESC to enter Setup" countdown: keys reach the firmware now
	StageKernel   = "kernel"        // EFI stub / Linux started
	StageNixOS1   = "nixos-stage-1" // NixOS initrd
	StageNixOS2   = "nixos-stage-2" // NixOS system start
	StageLogin    = "login"         // a login prompt
	StageShell    = "shell"         // a shell prompt (Linux or the UEFI shell)
)

// Stages lists the stage ids in boot order.
var Stages = []string{StageMB1, StageMB2, StageFirmware, StageUBoot, StageUEFI, StageUEFIMenu, StageKernel, StageNixOS1, StageNixOS2, StageLogin, StageShell}

// IsStage reports whether id is a stage id.
func IsStage(id string) bool {
	for _, s := range Stages {
		if s == id {
			return true
		}
	}
	return false
}

// Fact ids: what the console told us about the board. Also an interface.
const (
	FactFirmwareVersion = "firmware-version"
	FactNixOSVersion    = "nixos-version"
	FactHostname        = "hostname"
	FactIP              = "ip"
	FactError           = "error"
	// FactHostKey is an SSH host key fingerprint (SHA256:...) the board
	// printed (ssh-keygen -l), for the push step to pin.
	FactHostKey = "host-key"
	// FactModel is the board the firmware or the kernel names ("Machine
	// model: NVIDIA Jetson AGX Orin Developer Kit", U-Boot's "RPI 3 Model B").
	FactModel = "model"
	// FactSerialNumber is the module's serial number, as the Watch step's
	// k has the board print it ("jetup-serial-number: 1424021012345").
	FactSerialNumber = "serial-number"
)

// Trap is one of the profile's known traps of this board, said where it
// bites (profiles.Trap): at the start of the console, or when the board
// shows the firmware it applies to. Its JSON is the `jetup console --json`
// trap line.
type Trap struct {
	Trap    string    `json:"trap"` // the trap's id
	Warning string    `json:"warning"`
	Next    string    `json:"next,omitempty"`
	At      time.Time `json:"at"`
}

// Text is the headless form, a warning.
func (t Trap) Text() string {
	return step.Warning{Warning: t.Warning, Next: t.Next}.Text()
}

// stageIndex is a stage's place in Stages, -1 for none.
func stageIndex(id string) int {
	for i, s := range Stages {
		if s == id {
			return i
		}
	}
	return -1
}

// Finding is a known dead end in the boot (a firmware assert, a kernel
// panic, L4TLauncher giving up on extlinux.conf) with what it means and
// what to do next. Its JSON is the `jetup console --json` finding line.
type Finding struct {
	Finding string    `json:"finding"` // the id: extlinux-fallback, uefi-assert, kernel-panic, ...
	Stage   string    `json:"stage"`   // the stage the boot was in
	Line    string    `json:"line"`
	What    string    `json:"what"`
	Next    string    `json:"next"`
	At      time.Time `json:"at"`
}

// Text is the headless form.
func (f Finding) Text() string {
	return fmt.Sprintf("finding %s: %s\n  line: %s\n  next: %s", f.Finding, f.What, f.Line, f.Next)
}

// Stage is emitted when the boot reaches a stage. Its JSON is the
// `jetup console --json` stage line.
type Stage struct {
	Stage string    `json:"stage"`
	At    time.Time `json:"at"`
	Line  string    `json:"line"`
}

// Text is the headless form.
func (s Stage) Text() string { return fmt.Sprintf("stage %s: %s", s.Stage, s.Line) }

// Fact is emitted when the console shows something worth keeping. Its JSON
// is the `jetup console --json` fact line.
type Fact struct {
	Fact  string    `json:"fact"`
	Value string    `json:"value"`
	At    time.Time `json:"at"`
}

// Text is the headless form.
func (f Fact) Text() string { return fmt.Sprintf("%s: %s", f.Fact, f.Value) }

// Output is a batch of bytes from the board, at most about 30 a second.
type Output struct {
	At   time.Time `json:"at"`
	Data []byte    `json:"data"`
}

// Text is empty: the stream is printed raw, not as lines.
func (o Output) Text() string { return "" }

// Connection says the port came, went or is awaited. Its JSON line is
// {"event":"connected","port":...}.
type Connection struct {
	Event string    `json:"event"` // "waiting", "connected", "reconnected", "disconnected"
	Port  string    `json:"port"`
	At    time.Time `json:"at"`
	// Detail says why: how the port was chosen, why it went away.
	Detail string `json:"detail,omitempty"`
	// Offset is how many bytes had arrived before this event: the place in
	// the raw log.
	Offset int64 `json:"offset"`
}

// Connection events.
const (
	EventWaiting      = "waiting"
	EventConnected    = "connected"
	EventReconnected  = "reconnected"
	EventDisconnected = "disconnected"
)

// Text is the headless form.
func (c Connection) Text() string {
	s := "jetup: " + c.Event
	if c.Port != "" {
		s += " " + c.Port
	}
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}
