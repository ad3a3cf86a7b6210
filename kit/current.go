package kit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Currency says whether a kit still holds what a prepare would make now.
type Currency struct {
	// State is "current", "stale" or "unknown" (offline, or a flake that
	// could not be asked).
	State   string   `json:"state"`
	Reasons []string `json:"reasons,omitempty"`
	// Refresh is the command that makes the kit current again.
	Refresh string `json:"refresh,omitempty"`
}

// The states of Currency.
const (
	StateCurrent = "current"
	StateStale   = "stale"
	StateUnknown = "unknown"
)

// metadataTimeout bounds each flake's look-up: a listing must not hang
// on a slow forge.
const metadataTimeout = 30 * time.Second

// Current compares the kit with what a prepare would make now: the
// profile's flake refs (a user profile may have moved them) and each
// flake's lock (nix flake metadata: the network for a remote flake).
// Offline it judges only the profile, and says the locks were not asked.
func Current(ctx context.Context, nx *nixrun.Nix, m *Manifest, p *profiles.Profile) Currency {
	c := Currency{State: StateCurrent, Refresh: RefreshCommand(m)}
	if p != nil {
		for _, a := range m.Artifacts {
			want := ""
			switch a.ID {
			case Flash:
				want = p.FlashRef()
			case Installer:
				if a.Installable != "" { // an --image is the person's choice
					want = p.InstallerRef()
				}
			}
			if want != "" && canonical(want) != canonical(a.Ref) {
				c.State = StateStale
				c.Reasons = append(c.Reasons, fmt.Sprintf("the profile now builds the %s from %s, the kit holds %s", a.ID.Title(), want, a.Ref))
			}
		}
	}
	if nx != nil && nx.Offline {
		if c.State == StateCurrent {
			c.State = StateUnknown
		}
		c.Reasons = append(c.Reasons, "the flakes' locks were not checked: offline")
		return c
	}
	for _, f := range m.Flakes {
		cctx, cancel := context.WithTimeout(ctx, metadataTimeout)
		now, err := metadata(cctx, nx, f.Flake, nil)
		cancel()
		switch {
		case err != nil:
			if c.State == StateCurrent {
				c.State = StateUnknown
			}
			c.Reasons = append(c.Reasons, fmt.Sprintf("%s could not be asked: %s", f.Flake, nixrun.ReasonOf(err)))
		case !now.Same(f.Lock):
			c.State = StateStale
			c.Reasons = append(c.Reasons, fmt.Sprintf("%s moved from %s to %s", f.Flake, f.Lock.Short(), now.Short()))
		}
	}
	return c
}

// RefreshCommand is the prepare that makes kit m again.
func RefreshCommand(m *Manifest) string {
	cmd := []string{"jetup", "prepare", "--profile", m.Profile}
	if m.Name != m.Profile {
		cmd = append(cmd, "--name", m.Name)
	}
	for _, a := range m.Artifacts {
		switch {
		case a.ID == System:
			cmd = append(cmd, "--system", shellQuote(a.Ref))
		case a.ID == Installer && a.Installable == "":
			cmd = append(cmd, "--image", shellQuote(a.Ref))
		}
	}
	return strings.Join(cmd, " ")
}

// shellQuote quotes s for a shell when it needs it.
func shellQuote(s string) string {
	safeChars := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("#:/._-+=@,%", r)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !safeChars(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Missing lists what the profile's steps use and the kit lacks: the
// flash script when the profile flashes, the installer when it writes.
func Missing(m *Manifest, p *profiles.Profile) []ID {
	if p == nil {
		return nil
	}
	var out []ID
	need := map[ID]bool{
		Flash:     p.HasStep(step.Flash) && p.Flash != nil && p.Flash.Flake != "",
		Installer: p.HasStep(step.Write) && p.Installer.Flake != "",
	}
	for _, id := range []ID{Flash, Installer} {
		if _, ok := m.Get(id); need[id] && !ok {
			out = append(out, id)
		}
	}
	return out
}
