package step

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jetup/jetup/safe"
)

// ID names a step. The ids are part of the interface: run.json, --json
// output and bench scripts use them.
type ID string

const (
	Doctor  ID = "doctor"
	Detect  ID = "detect"
	Flash   ID = "flash"
	Console ID = "console"
	Write   ID = "write"
	Push    ID = "push"
	Verify  ID = "verify"
	Update  ID = "update"
	// Bundle is the offline update's home side: manifests and bundles.
	Bundle ID = "bundle"
	// Apply is a bundle applied on the board itself (jetup apply).
	Apply ID = "apply"
	// Prepare makes a field kit (jetup prepare): what the steps build,
	// pinned for a bring-up with no network.
	Prepare ID = "prepare"
	// Fleet is a fleet run's own record (its nodes each have a run of
	// push and verify).
	Fleet ID = "fleet"
)

// Facts flow forward from step to step and are kept in run.json (run-level
// "facts"). The keys are an interface.
const (
	FactUSBInstance     = "usb_instance"     // "1-8.4", from detect, for flash --usb-instance
	FactModule          = "module"           // "Orin Nano 8GB (P3767-0003)", from detect
	FactFirmwareVersion = "firmware_version" // UEFI firmware version seen on the console
	FactNixOSVersion    = "nixos_version"    // from the console
	FactHostname        = "hostname"         // from the console, for push
	FactIP              = "ip"               // IPv4 address printed on the console, for push
	FactHostKey         = "host_key"         // SSH host key fingerprint (SHA256:...) printed by the board
	FactInstaller       = "installer"        // path of the installer image built or chosen, for write
	// What a board says about itself, for its label on a bench.
	FactUSBSerial    = "usb_serial"    // the recovery device's USB serial string, from detect
	FactSerialNumber = "serial_number" // the module's serial number, printed on the console
	// The push's login, set by the push step and read by the console
	// step, which installs the matching public key (flowing back when the
	// person returns to Watch after changing them); root and ssh's own
	// keys until then.
	FactSSHUser     = "ssh_user"     // the push's --user
	FactSSHIdentity = "ssh_identity" // the push's --identity (a private key's path; jetup reads only its .pub)
	FactLoginKey    = "login_key"    // fingerprint (SHA256:...) of the public key the console step installed
)

// Event is one thing a step reports while it runs. Concrete event types live
// in the step's own package and carry JSON tags: their JSON encoding is the
// --json line format for that step, so keep field names stable.
type Event interface {
	// Text is the one-line human form printed by headless commands.
	Text() string
}

// Sink receives events. Emit may be called from any goroutine and must not
// block for long: a slow sink slows the step.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

// Discard drops every event.
var Discard Sink = SinkFunc(func(Event) {})

// Tee sends each event to every sink in order.
func Tee(sinks ...Sink) Sink {
	return SinkFunc(func(e Event) {
		for _, s := range sinks {
			if s != nil {
				s.Emit(e)
			}
		}
	})
}

// Printer is the headless face: one line per event, as text or as JSON.
// It serialises writes so events from several goroutines never interleave.
type Printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

// NewPrinter prints events to w; with asJSON each event is one JSON object
// per line (the event's own encoding), otherwise its Text.
func NewPrinter(w io.Writer, asJSON bool) *Printer {
	return &Printer{w: w, json: asJSON}
}

// Emit prints one event.
func (p *Printer) Emit(e Event) {
	var line []byte
	if p.json {
		b, err := json.Marshal(e)
		if err != nil {
			b, _ = json.Marshal(map[string]string{"error": err.Error()})
		}
		line = append(b, '\n')
	} else {
		// Lines carry what tools and boards printed: never their escapes.
		t := safe.Text(e.Text())
		if t == "" {
			return
		}
		line = []byte(t + "\n")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.w.Write(line)
}

// NewStampedPrinter prints each event's Text after its UTC time
// (2006-01-02T15:04:05.000Z): for logs read long after the events, where
// the events carry no time a person would see (the detect log).
func NewStampedPrinter(w io.Writer) Sink {
	var mu sync.Mutex
	return SinkFunc(func(e Event) {
		t := safe.Text(e.Text())
		if t == "" {
			return
		}
		line := time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + t + "\n"
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, line)
	})
}

// Log is a line of a tool's output, passed through as it came.
type Log struct {
	At   time.Time `json:"at"`
	Line string    `json:"line"`
}

// Text returns the line.
func (l Log) Text() string { return l.Line }

// Warning is something the person should know, with what to do about it.
type Warning struct {
	At      time.Time `json:"at"`
	Warning string    `json:"warning"`
	Next    string    `json:"next,omitempty"`
}

// Text renders the warning and its next step.
func (w Warning) Text() string {
	if w.Next == "" {
		return "warning: " + w.Warning
	}
	return fmt.Sprintf("warning: %s (%s)", w.Warning, w.Next)
}

// Progress reports how far a long step has come. Total is 0 when unknown.
type Progress struct {
	At    time.Time `json:"at"`
	Phase string    `json:"phase"`
	Done  int64     `json:"done"`
	Total int64     `json:"total,omitempty"`
	Unit  string    `json:"unit,omitempty"` // "bytes", "paths", "steps"
}

// Fraction is Done/Total in [0,1], or -1 when the total is unknown.
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return -1
	}
	f := float64(p.Done) / float64(p.Total)
	if f > 1 {
		f = 1
	}
	return f
}

// Text renders "phase: done/total unit".
func (p Progress) Text() string {
	if p.Total > 0 {
		return fmt.Sprintf("%s: %d/%d %s", p.Phase, p.Done, p.Total, p.Unit)
	}
	return fmt.Sprintf("%s: %d %s", p.Phase, p.Done, p.Unit)
}
