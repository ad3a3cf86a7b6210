package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/serialcon"
)

// The Watch step of a bench's next board does what the person did for
// the board before: k at the shell prompt when k was used (the SSH key
// typed in, the host key printed: this board's own console vouches for
// its key), then it goes on once the host key is printed; without k it
// goes on once the boot reaches the stage the board before was left at.
// Anything else (a board that stops earlier, an error on the console)
// waits for the person, as on the first board.

// carried is the next thing to do on its own, nil when nothing.
func (c *consoleScreen) carried() tea.Cmd {
	bc := c.sess.carry
	if bc == nil || c.autoDone || !c.running() || c.ending || c.focus || c.searching {
		return nil
	}
	a := bc.answers
	switch {
	case a.consoleK && c.ssh.state == sshIdle && c.atLinuxShell():
		return c.setupSSH()
	case a.consoleK && c.ssh.state == sshSent && c.value(serialcon.FactHostKey) != "":
		return c.autoContinue()
	case !a.consoleK && a.consoleAt != "" && stageIndex(c.current) >= stageIndex(a.consoleAt):
		return c.autoContinue()
	}
	return nil
}

// autoContinue is enter, pressed once for the person.
func (c *consoleScreen) autoContinue() tea.Cmd {
	c.autoDone, c.ending = true, true
	c.status = "closing the port…"
	c.task.Cancel()
	return nil
}
