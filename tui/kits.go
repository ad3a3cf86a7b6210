package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/profiles"
)

// FieldKits is the wizard's side of the field kits (issue 20). The CLI
// fills it for the real machine; nil (the simulated bench) hides it.
type FieldKits struct {
	// Offline: every nix call of the run is offline and each build comes
	// from a kit (the CLI has set the run's Nix so); the header says so.
	Offline bool
	// UseProfile is told the picked board, so that offline builds are
	// taken from that profile's kits first and refused in its name.
	UseProfile func(*profiles.Profile)
	// Prepared is told when the picker has prepared a kit, so that the
	// run's builds see it.
	Prepared func()
}

func (m *Model) offline() bool { return m.opt.Kits != nil && m.opt.Kits.Offline }

// kitFoundMsg names the newest whole kit for the picked board.
type kitFoundMsg struct {
	profile string
	kit     string // "" when there is none
}

// lookUpKit, offline, hands the picked board to the run's builds and
// finds the kit they will use, for the header. A bench session keeps it
// for every board: the next board is the same profile, and the run's
// builds read the kits once.
func (m *Model) lookUpKit(p *profiles.Profile) tea.Cmd {
	if !m.offline() {
		return nil
	}
	if use := m.opt.Kits.UseProfile; use != nil {
		use(p)
	}
	ctx, nx, state := m.sess.ctx, m.sess.Hardware.Nix, m.opt.StateDir
	return func() tea.Msg {
		msg := kitFoundMsg{profile: p.Name}
		if h, err := kit.Newest(ctx, nx, state, p.Name); err == nil && h != nil {
			msg.kit = h.Name
		}
		return msg
	}
}

// offlineLabel is the header's "offline · kit KIT" ("" online).
func (m *Model) offlineLabel() string {
	switch {
	case !m.offline():
		return ""
	case m.sess.Profile == nil || m.kitFor != m.sess.Profile.Name:
		return "offline"
	case m.kit == "":
		return "offline · no kit"
	}
	return "offline · kit " + m.kit
}

// fieldKitCheck is doctor's field-kit finding for the picked board (as
// `jetup doctor --profile P` has it).
func fieldKitCheck(s *Session) func(context.Context) doctor.Finding {
	nx, state, p := s.Hardware.Nix, s.StateDir, s.Profile
	return func(ctx context.Context) doctor.Finding {
		v := kit.Judge(ctx, nx, state, p)
		return doctor.Finding{ID: "field-kit", Title: "field kit", Status: doctor.Status(v.Status),
			Detail: v.Detail, Next: v.Next, BlocksFlashing: v.BlocksFlashing}
	}
}

// prepareStarter is the picker's "prepare for offline use"; nil when the
// wizard has no kits (the simulated bench).
func (m *Model) prepareStarter() func(*profiles.Profile) (*prepareView, tea.Cmd) {
	if m.opt.Kits == nil {
		return nil
	}
	return func(p *profiles.Profile) (*prepareView, tea.Cmd) {
		v := newPrepareView(m.sess, m.st, p)
		return v, v.start(m.opt)
	}
}

// recordKit notes the kit in the run record, offline: every board of a
// bench session names the one kit its builds came from.
func (m *Model) recordKit() {
	if p := m.sess.Profile; m.offline() && m.sess.Run != nil && p != nil && m.kitFor == p.Name && m.kit != "" {
		m.sess.SetFact("kit", m.kit)
	}
}
