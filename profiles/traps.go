package profiles

import (
	"strings"

	"github.com/jetup/jetup/step"
)

// Trap is a known problem of a board, shown at the step where it bites
// rather than in a list of notes (issue 14; research/jetpack.md 5-6):
// Orin's missing Linux console on HDMI/DP at the console, an AGX Xavier's
// UEFI variables on eMMC where the boot order matters, firmware 35.3.1 not
// seeing USB boot devices when the console shows that firmware.
type Trap struct {
	ID string `yaml:"id" json:"id"`
	// Steps are where it bites: console, write, push, flash...
	Steps []step.ID `yaml:"steps" json:"steps"`
	// Firmware, when set, limits it to boards whose UEFI firmware version
	// starts with this ("35.3.1"): the console shows it when it sees that
	// version; other steps show it only for a profile of that JetPack.
	Firmware string `yaml:"firmware,omitempty" json:"firmware,omitempty"`
	Text     string `yaml:"text" json:"text"`
	Next     string `yaml:"next,omitempty" json:"next,omitempty"`
}

// Warning is the trap as the steps' event.
func (t Trap) Warning() step.Warning {
	return step.Warning{Warning: t.Text, Next: t.Next}
}

// TrapsAt are the profile's traps for step id that apply without knowing
// the board's firmware: a firmware trap applies when the profile's own
// JetPack release is that firmware's (35.3.1 is JetPack 5's).
func (p *Profile) TrapsAt(id step.ID) []Trap {
	if p == nil {
		return nil
	}
	var out []Trap
	for _, t := range p.Traps {
		if !t.at(id) {
			continue
		}
		if t.Firmware != "" {
			if r, ok := p.Release(); !ok || !strings.HasPrefix(t.Firmware, strings.SplitN(r.L4T, ".", 2)[0]+".") {
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

// TrapsForFirmware are the profile's traps for step id that bite a board
// running firmware version (the console's firmware-version fact).
func (p *Profile) TrapsForFirmware(id step.ID, version string) []Trap {
	if p == nil || version == "" {
		return nil
	}
	var out []Trap
	for _, t := range p.Traps {
		if t.Firmware != "" && t.at(id) && strings.HasPrefix(version, t.Firmware) {
			out = append(out, t)
		}
	}
	return out
}

func (t Trap) at(id step.ID) bool {
	for _, s := range t.Steps {
		if s == id {
			return true
		}
	}
	return false
}
