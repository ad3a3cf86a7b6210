package tui

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

// The Watch step's k: at the board's shell prompt it types, through the
// console, the commands that install the person's SSH public key for the
// push's user and print the board's host key fingerprints
// (deploy.ConsoleSetup). The console step then records the fingerprint
// as the host_key fact, and the push trusts the key the board printed
// without asking.

var consoleSSHKey = key.NewBinding(key.WithKeys("k"), key.WithHelp("k", "SSH key to board"))

// sshState is where the k key's work is.
type sshState int

const (
	sshIdle    sshState = iota
	sshLooking          // finding the public key
	sshSent             // typed in; the host key appears as the board prints it
)

// consoleSSH is what k did, for the screen to say.
type consoleSSH struct {
	state  sshState
	user   string
	key    *deploy.LoginKey // nil: only the host keys were asked for
	keyErr error            // why no key was typed in
	sentAt time.Time
}

// consoleSSHMsg brings the public key looked up in the background.
type consoleSSHMsg struct {
	user string
	key  *deploy.LoginKey
	err  error
}

// sshNotYet says why k cannot work now; "" when it can.
func (c *consoleScreen) sshNotYet() string {
	switch {
	case !c.running() || !c.online:
		return "k: the console is not connected"
	case c.current == serialcon.StageLogin:
		return "k needs a shell prompt: log in first (i, then the user name), then press k"
	case c.current == serialcon.StageShell && !c.atLinuxShell():
		return "k: this is the UEFI shell; boot NixOS first, then press k at its prompt"
	case c.current != serialcon.StageShell:
		return "k: no shell prompt yet (boot: " + orNone(c.current) + "); it works once the board shows its prompt"
	}
	return ""
}

// sshUser is the user the push step will log in as.
func (c *consoleScreen) sshUser() string {
	if u := c.sess.Facts[step.FactSSHUser]; u != "" {
		return u
	}
	return "root"
}

// atLinuxShell reports whether the board sits at a Linux shell prompt.
func (c *consoleScreen) atLinuxShell() bool {
	return c.current == serialcon.StageShell && !serialcon.IsUEFIShell(c.stageLine)
}

// setupSSH starts k's work, or says why it cannot yet (until the boot
// moves on: stage clears what k said).
func (c *consoleScreen) setupSSH() tea.Cmd {
	if c.ssh.state == sshLooking {
		return nil
	}
	if why := c.sshNotYet(); why != "" {
		c.warn, c.kWarned = why, true
		return nil
	}
	user, identity := c.sshUser(), c.sess.Facts[step.FactSSHIdentity]
	c.ssh = consoleSSH{state: sshLooking, user: user}
	c.warn, c.kWarned = "", false
	ctx := c.sess.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		k, err := deploy.FindLoginKey(ctx, deploy.KeyLookup{Identity: identity})
		if err != nil {
			return consoleSSHMsg{user: user, err: err}
		}
		return consoleSSHMsg{user: user, key: &k}
	}
}

// sshKeyFound types the commands in: with the key when there is one, the
// host keys alone when not.
func (c *consoleScreen) sshKeyFound(m consoleSSHMsg) {
	if c.ssh.state != sshLooking {
		return
	}
	typed, err := deploy.ConsoleSetup(m.user, m.key)
	if err != nil {
		// A key that cannot be typed in safely: the host keys still can.
		m.key, m.err = nil, err
		typed, _ = deploy.ConsoleSetup(m.user, nil)
	}
	c.send(typed)
	if c.warn != "" { // not sent: the port went away
		c.ssh = consoleSSH{}
		return
	}
	c.ssh = consoleSSH{state: sshSent, user: m.user, key: m.key, keyErr: m.err, sentAt: time.Now()}
	if m.key != nil {
		c.sess.SetFact(step.FactLoginKey, m.key.Fingerprint)
	}
	if m.err != nil {
		// The next step first: a narrow window shows one line of this.
		c.warn = "no SSH key typed in: "
		if next := step.NextOf(m.err); next != "" {
			c.warn += next + "; "
		}
		c.warn += m.err.Error()
	}
}

// keySource names where the key came from, briefly.
func (s consoleSSH) keySource() string {
	if s.key == nil {
		return ""
	}
	if s.key.Source == "ssh-agent" {
		return "the ssh-agent's " + s.key.Type
	}
	return filepath.Base(s.key.Source)
}

// sshSection is the facts column's part for k (wide windows).
func (c *consoleScreen) sshSection() string {
	var lines []string
	say := func(text string, render func(...string) string) {
		lines = append(lines, render(wrapIndent(text, factsWidth, "  ")))
	}
	plain := func(s ...string) string { return strings.Join(s, "") }
	switch c.ssh.state {
	case sshIdle:
		if c.atLinuxShell() {
			say("k: let "+c.sshUser()+" log in over SSH with your key, and show the board's host key", plain)
		} else {
			say("k, at the board's shell prompt: your SSH key for "+c.sshUser()+", and the host key", c.st.Subtle.Render)
		}
	case sshLooking:
		say("finding your SSH public key…", plain)
	case sshSent:
		if c.ssh.key != nil {
			say("✓ key typed in for "+c.ssh.user, c.st.Good.Render)
			say("  ("+c.ssh.keySource()+")", c.st.Subtle.Render)
		} else {
			say("✗ no key typed in (see above)", c.st.Warn.Render)
		}
		if c.value(serialcon.FactHostKey) != "" {
			say("✓ host key printed:", c.st.Good.Render)
			say("  the push will trust it", plain)
		} else {
			say("waiting for the board to print its host key…", plain)
		}
	}
	return "\n" + c.st.Bold.Render("SSH login") + "\n" + strings.Join(lines, "\n") + "\n"
}

// sshShort is k's state in the one mode line of a narrow window.
func (c *consoleScreen) sshShort() string {
	if c.ssh.state == sshLooking {
		return "finding your SSH public key…"
	}
	// About 60 columns: the step list takes the rest of 80.
	s := "✓ key for " + c.ssh.user
	if c.ssh.key == nil {
		s = "✗ no key typed in"
	}
	if c.value(serialcon.FactHostKey) != "" {
		return s + " · ✓ host key printed: push will trust it"
	}
	return s + " · waiting for the host key…"
}
