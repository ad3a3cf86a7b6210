package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/deploy"
)

// pushForm is the push screen's target form: where to, as whom, what, how.
type pushForm struct {
	inputs []textinput.Model // host, port, user, identity, system
	modes  []deploy.Mode
	mode   int
	reboot bool
	focus  int // index into fields; len(inputs) is mode, +1 reboot
	err    string
}

const (
	fHost = iota
	fPort
	fUser
	fIdentity
	fSystem
	fMode
	fReboot
	fieldCount
)

var fieldLabel = [fieldCount]string{"Host", "Port", "User", "Identity", "System", "Mode", "Reboot"}

func newPushForm(host, system string) *pushForm {
	f := &pushForm{modes: []deploy.Mode{deploy.Auto, deploy.Installer, deploy.Switch, deploy.Boot}}
	mk := func(value, placeholder string) textinput.Model {
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = placeholder
		in.SetValue(value)
		return in
	}
	f.inputs = []textinput.Model{
		mk(host, "192.168.55.1 (the address the console step showed)"),
		mk("22", ""),
		mk("root", ""),
		mk("", "empty: ssh's own keys and agent"),
		mk(system, "./result, a store path, or a flake REF#NAME"),
	}
	return f
}

// fill sets the form's fields but the host from o (a bench's board
// before).
func (f *pushForm) fill(o deploy.Options) {
	if o.Target.Port > 0 {
		f.inputs[fPort].SetValue(strconv.Itoa(o.Target.Port))
	}
	f.inputs[fUser].SetValue(o.Target.User)
	f.inputs[fIdentity].SetValue(o.Target.Identity)
	sys := o.Closure
	if o.Flake != "" {
		sys = o.Flake
	}
	f.inputs[fSystem].SetValue(sys)
	for i, m := range f.modes {
		if m == o.Mode {
			f.mode = i
		}
	}
	f.reboot = o.Reboot
}

// setWidth sizes the text fields to the content area.
func (f *pushForm) setWidth(w int) {
	for i := range f.inputs {
		f.inputs[i].SetWidth(max(w-14, 10))
	}
}

// focusOn moves the cursor to field i (-1 blurs every field).
func (f *pushForm) focusOn(i int) tea.Cmd {
	f.focus = i
	var cmd tea.Cmd
	for j := range f.inputs {
		if j == i {
			cmd = f.inputs[j].Focus()
		} else {
			f.inputs[j].Blur()
		}
	}
	return cmd
}

func (f *pushForm) editing() bool { return f.focus >= 0 }

// update handles a key while a field is focused.
func (f *pushForm) update(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "tab", "down":
		return f.focusOn((f.focus + 1) % fieldCount)
	case "shift+tab", "up":
		return f.focusOn((f.focus + fieldCount - 1) % fieldCount)
	}
	switch f.focus {
	case fMode:
		switch k.String() {
		case "left", "h":
			f.mode = (f.mode + len(f.modes) - 1) % len(f.modes)
		case "right", "l", "space":
			f.mode = (f.mode + 1) % len(f.modes)
		}
		return nil
	case fReboot:
		switch k.String() {
		case "left", "right", "h", "l", "space":
			f.reboot = !f.reboot
		}
		return nil
	}
	var cmd tea.Cmd
	f.inputs[f.focus], cmd = f.inputs[f.focus].Update(k)
	return cmd
}

// options turns the form into push options, or says what is wrong.
func (f *pushForm) options() (deploy.Options, error) {
	var o deploy.Options
	val := func(i int) string { return strings.TrimSpace(f.inputs[i].Value()) }
	o.Target.Host, o.Target.User, o.Target.Identity = val(fHost), val(fUser), val(fIdentity)
	if o.Target.Host == "" {
		return o, fmt.Errorf("the board's address is needed (the console step shows it); with none, esc then o writes an offline bundle")
	}
	port, err := strconv.Atoi(val(fPort))
	if err != nil || port < 1 || port > 65535 {
		return o, fmt.Errorf("port %q is not a port number", val(fPort))
	}
	o.Target.Port = port
	sys := val(fSystem)
	switch {
	case sys == "":
		return o, fmt.Errorf("which system? a built toplevel (./result) or a flake REF#NAME")
	case strings.Contains(sys, "#"):
		o.Flake = sys
	default:
		o.Closure = sys
	}
	o.Mode, o.Reboot = f.modes[f.mode], f.reboot
	return o, nil
}

func modeName(m deploy.Mode) string {
	switch m {
	case deploy.Installer:
		return "installer: nixos-install onto /mnt"
	case deploy.Switch:
		return "switch: activate now"
	case deploy.Boot:
		return "boot: activate at the next boot"
	}
	return "auto: installer if /mnt is ready, else switch"
}

func (f *pushForm) view(st *Styles, w int) string {
	var b strings.Builder
	for i := 0; i < fieldCount; i++ {
		mark := "  "
		if i == f.focus {
			mark = st.Accent.Render("▸ ")
		}
		var value string
		switch i {
		case fMode:
			value = truncate("‹ "+modeName(f.modes[f.mode])+" ›", w-13)
		case fReboot:
			value = "‹ no ›"
			if f.reboot {
				value = "‹ yes, after activating ›"
			}
		default:
			value = f.inputs[i].View() // sized by setWidth
		}
		fmt.Fprintf(&b, "%s%-10s %s\n", mark, fieldLabel[i], value)
	}
	if f.err != "" {
		b.WriteString("\n" + st.Bad.Render("✗ "+truncate(f.err, w-2)) + "\n")
	}
	return b.String()
}
