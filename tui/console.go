package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

func init() { register(step.Console, "Watch", newConsoleScreen) }

// consoleScreen is the Watch step: the board's console in a pane, the boot
// stages as a track above it, the facts beside it, and a focus mode that
// sends keys to the board. Facts flow to the later steps as they appear
// (the push step needs the address and host name).
type consoleScreen struct {
	sess *Session
	st   *Styles

	con     *serialcon.Console
	task    *Task
	attempt attempt // the run record's attempt the console is watched in
	logs    []io.Closer
	pane    *scrollback // the board's output; nil before the first session
	result  *serialcon.Result
	err     error
	ending  bool // enter was pressed: stop the session, then end the step

	shown     atomic.Int64 // bytes of board output drawn (read by the benchmark)
	status    string       // connection state, in words
	online    bool
	unplugged bool
	reached   map[string]bool
	current   string
	stageLine string // the line that showed the current stage (tells the UEFI shell from Linux)
	ssh       consoleSSH
	kWarned   bool   // warn says why k did nothing
	traps     string // the board's known traps the session named
	facts     []serialcon.Fact
	warn      string

	focus    bool
	autoDone bool // the bench's next board went on by itself once

	searching bool
	query     string // the search being typed, then the last one (n/N)
	notFound  bool

	w, h         int
	paneW, paneH int
}

var (
	consoleFocusKey  = key.NewBinding(key.WithKeys("i", "tab"), key.WithHelp("i", "type to the board"))
	consoleLeaveKey  = key.NewBinding(key.WithKeys("ctrl+]"), key.WithHelp("ctrl+]", "stop typing to the board"))
	consoleEscKey    = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "send ESC (UEFI setup)"))
	consoleF11Key    = key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "send F11 (boot menu)"))
	consoleCtrlCKey  = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "send ctrl+c"))
	consoleSearchKey = key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search"))
	consoleNextKey   = key.NewBinding(key.WithKeys("n", "N"), key.WithHelp("n/N", "next/previous match"))
	consoleRetryKey  = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "try again"))
)

func newConsoleScreen(s *Session, st *Styles) Screen {
	return &consoleScreen{sess: s, st: st, reached: map[string]bool{}, w: 80, h: 20}
}

// Init starts watching, unless a session already runs (the person came
// back to this step).
func (c *consoleScreen) Init() tea.Cmd {
	if c.task != nil && c.result == nil && c.err == nil {
		return nil
	}
	return c.start()
}

func (c *consoleScreen) start() tea.Cmd {
	c.closeLogs()
	c.result, c.err, c.ending, c.warn, c.traps = nil, nil, false, "", ""
	c.status, c.online = "looking for the console port…", false
	c.reached, c.current, c.stageLine, c.facts = map[string]bool{}, "", "", nil
	c.ssh = consoleSSH{}
	c.pane = newScrollback(c.paneW, c.paneH)

	o := serialcon.Options{Ports: c.sess.Hardware.Serial, Profile: c.sess.Profile}
	if o.Profile != nil {
		o.Config.Baud = o.Profile.Console.Baud
	}
	// Without its logs the console still runs; the screen says they are
	// missing.
	c.attempt.begin(c.sess)
	raw, _ := c.sess.Step().OpenLog("raw")
	text, _ := c.sess.Step().OpenLog("log")
	o.RawLog, o.TextLog = raw, text
	c.logs = append(c.logs, raw, text)
	c.con = serialcon.New(o)
	con := c.con
	// Watching a console is no work in progress: esc, s and q leave without
	// asking to stop it, and it keeps logging while later steps run (the
	// push's reboot shows up in the same log). It ends with the wizard.
	t, cmd := c.sess.StartWatch(func(ctx context.Context, sink step.Sink) (any, error) {
		raw.Warn(sink)
		text.Warn(sink)
		return con.Run(ctx, sink)
	})
	c.task = t
	return cmd
}

// consoleStartMsg starts a new session (after a retry is recorded).
type consoleStartMsg struct{}

func (c *consoleScreen) closeLogs() {
	for _, l := range c.logs {
		_ = l.Close()
	}
	c.logs = nil
}

func (c *consoleScreen) running() bool { return c.task != nil && c.result == nil && c.err == nil }

// SetSize lays out the pane: the facts get a column of their own when the
// window is wide, a line under the stage track when it is not.
func (c *consoleScreen) SetSize(w, h int) {
	c.w, c.h = w, h
	c.paneW, c.paneH = w, max(h-4, 3)
	if c.wide() {
		c.paneW, c.paneH = w-factsWidth-1, max(h-3, 3)
	}
	if c.pane != nil {
		c.pane.SetSize(c.paneW, c.paneH)
	}
}

const factsWidth = 34

func (c *consoleScreen) wide() bool { return c.w >= 110 }

func (c *consoleScreen) CapturesKeys() bool { return c.focus || c.searching }

// PassesCtrlC: in focus mode ctrl+c goes to the board like every other key
// (ctrl+] leaves focus); the wizard's quit is one ctrl+] away.
func (c *consoleScreen) PassesCtrlC() bool { return c.focus }

func (c *consoleScreen) Keys() []key.Binding {
	switch {
	case c.focus:
		return []key.Binding{consoleLeaveKey}
	case c.searching:
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "find")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}
	case c.err != nil:
		return []key.Binding{consoleRetryKey}
	}
	if c.atLinuxShell() {
		// At the prompt, k is what the person most likely wants next.
		return []key.Binding{keys.Continue, consoleSSHKey, consoleFocusKey, consoleSearchKey, consoleNextKey, scrollbackScrollKey,
			scrollbackFollowKey, consoleCtrlCKey, consoleEscKey, consoleF11Key}
	}
	return []key.Binding{keys.Continue, consoleFocusKey, consoleEscKey, consoleF11Key, consoleCtrlCKey, consoleSearchKey,
		consoleNextKey, scrollbackScrollKey, scrollbackFollowKey, consoleSSHKey}
}

func (c *consoleScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case TaskEventMsg:
		if msg.Task != c.task {
			return c, nil
		}
		c.event(msg.Event)
		return c, tea.Batch(c.task.Next(), c.carried())
	case TaskDoneMsg:
		if msg.Task != c.task {
			return c, nil
		}
		return c, c.done(msg)
	case consoleStartMsg:
		return c, c.start()
	case consoleSSHMsg:
		c.sshKeyFound(msg)
		return c, nil
	case tea.PasteMsg:
		if c.focus {
			c.send([]byte(strings.ReplaceAll(msg.Content, "\n", "\r")))
		} else if c.searching {
			c.query += msg.Content
		}
		return c, nil
	case tea.KeyPressMsg:
		return c, c.key(msg)
	}
	return c, nil
}

// event applies one event of the console session.
func (c *consoleScreen) event(e step.Event) {
	switch e := e.(type) {
	case serialcon.Output:
		c.shown.Add(int64(len(e.Data)))
		c.pane.Write(e.Data)
		if r := c.pane.Replies(); len(r) > 0 {
			_ = c.con.Send(r) // answer the board's cursor-position query
		}
	case serialcon.Stage:
		c.stage(e.Stage)
		c.stageLine = safe.Text(e.Line) // the pane is a terminal; the status line is not
	case serialcon.Fact:
		c.fact(e)
	case serialcon.Finding:
		c.warn = e.What + ": " + e.Next
	case serialcon.Trap:
		// Shown beside the facts, never over the status line.
		if !strings.Contains(c.traps, e.Warning) {
			c.traps += safe.Text(e.Warning+" ("+e.Next+")") + "\n"
		}
	case serialcon.Connection:
		switch e.Event {
		case serialcon.EventWaiting:
			if !c.unplugged {
				c.status, c.online = e.Detail, false
			}
		case serialcon.EventConnected, serialcon.EventReconnected:
			c.status, c.online, c.unplugged = "connected "+shortPort(e.Port), true, false
		case serialcon.EventDisconnected:
			c.status, c.online, c.unplugged = "unplugged: waiting for "+e.Port+" to come back", false, true
			c.mark(fmt.Sprintf("── %s: %s ──", time.Now().Format("15:04:05"), "the port went away"))
		}
		if e.Event == serialcon.EventReconnected {
			c.mark(fmt.Sprintf("── %s: %s ──", time.Now().Format("15:04:05"), "the port is back"))
		}
	case step.Warning:
		c.warn = safe.Text(e.Text())
	}
}

// mark writes one of jetup's notes into the pane, in reverse video so it
// is never taken for the board's output.
func (c *consoleScreen) mark(s string) {
	c.pane.Write([]byte("\r\n\x1b[7m" + s + "\x1b[0m\r\n"))
}

// stage moves the track. A stage earlier than the current one means the
// board rebooted: the later marks are cleared.
func (c *consoleScreen) stage(id string) {
	i := stageIndex(id)
	if cur := stageIndex(c.current); i >= 0 && cur >= 0 && i <= cur {
		for _, s := range serialcon.Stages[i:] {
			delete(c.reached, s)
		}
		if i < stageIndex(serialcon.StageLogin) {
			c.ssh = consoleSSH{} // a reboot: what k typed in is gone with the live system
		}
	}
	c.reached[id] = true
	c.current = id
	if c.kWarned {
		c.warn, c.kWarned = "", false // why k could not work yet: no longer so
	}
}

// shortPort names a port briefly: a long /dev/serial/by-id name by its
// last part.
func shortPort(p string) string {
	if len(p) <= 24 {
		return p
	}
	return filepath.Base(p)
}

func stageIndex(id string) int {
	for i, s := range serialcon.Stages {
		if s == id {
			return i
		}
	}
	return -1
}

// fact records a fact and passes those the next steps need forward.
func (c *consoleScreen) fact(f serialcon.Fact) {
	replaced := false
	for i := range c.facts {
		if c.facts[i].Fact == f.Fact {
			c.facts[i], replaced = f, true
		}
	}
	if !replaced {
		c.facts = append(c.facts, f)
	}
	if k, ok := factKeys[f.Fact]; ok {
		c.sess.SetFact(k, f.Value)
	}
}

// factKeys maps console facts to the run's fact keys.
var factKeys = map[string]string{
	serialcon.FactIP:              step.FactIP,
	serialcon.FactHostname:        step.FactHostname,
	serialcon.FactHostKey:         step.FactHostKey,
	serialcon.FactFirmwareVersion: step.FactFirmwareVersion,
	serialcon.FactNixOSVersion:    step.FactNixOSVersion,
	serialcon.FactSerialNumber:    step.FactSerialNumber,
}

// value is the last value of fact id, "" before the board printed it.
func (c *consoleScreen) value(id string) string {
	for _, f := range c.facts {
		if f.Fact == id {
			return f.Value
		}
	}
	return ""
}

func (c *consoleScreen) done(d TaskDoneMsg) tea.Cmd {
	c.closeLogs()
	c.online = false
	if r, ok := d.Result.(serialcon.Result); ok {
		c.result = &r
	}
	if d.Err != nil && !(c.ending && errors.Is(d.Err, context.Canceled)) {
		c.err = d.Err
		c.status = "stopped"
		c.ending = false
		// The attempt is recorded as failed; r starts a new one.
		return c.attempt.done(DoneMsg{Outcome: runrec.Failed, Summary: "the console could not be watched: " + d.Err.Error(), Err: d.Err})
	}
	if c.ending {
		return c.finish()
	}
	c.status = "the console session ended"
	return nil
}

// finish ends the step with what the console showed.
func (c *consoleScreen) finish() tea.Cmd {
	c.sess.answers.consoleK = c.ssh.state == sshSent
	c.sess.answers.consoleAt = c.current
	return c.attempt.done(DoneMsg{Outcome: runrec.Success, Summary: c.summary(), Details: c.result})
}

func (c *consoleScreen) summary() string {
	var parts []string
	if c.current != "" {
		parts = append(parts, "reached "+c.current)
	} else {
		parts = append(parts, "no boot stage seen")
	}
	for _, id := range []string{serialcon.FactHostname, serialcon.FactIP, serialcon.FactHostKey, serialcon.FactError} {
		if v := c.value(id); v != "" {
			parts = append(parts, id+" "+v)
		}
	}
	if c.ssh.state == sshSent && c.ssh.key != nil {
		parts = append(parts, "SSH key typed in for "+c.ssh.user)
	}
	return strings.Join(parts, "; ")
}

func (c *consoleScreen) send(p []byte) {
	if len(p) == 0 || c.con == nil {
		return
	}
	if err := c.con.Send(p); err != nil {
		c.warn = "not sent: " + err.Error()
		return
	}
	c.warn = ""
	c.pane.Follow()
}

func (c *consoleScreen) key(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case c.focus:
		if key.Matches(k, consoleLeaveKey) {
			c.focus = false
			return nil
		}
		c.send(keyBytes(k))
		return nil
	case c.searching:
		c.searchKey(k)
		return nil
	}
	c.notFound = false
	switch {
	case key.Matches(k, keys.Continue):
		if c.running() {
			c.ending = true
			c.status = "closing the port…"
			c.task.Cancel()
			return nil
		}
		if c.err != nil {
			return nil // failed and recorded: r tries again, s skips
		}
		return c.finish()
	case key.Matches(k, consoleRetryKey) && !c.running():
		// The new attempt is recorded first, so its logs are its own.
		return c.attempt.retry(consoleStartMsg{})
	case key.Matches(k, consoleFocusKey) && c.running():
		c.focus = true
		c.pane.Follow()
	case key.Matches(k, consoleEscKey):
		c.send([]byte(serialcon.KeyEsc))
	case key.Matches(k, consoleF11Key):
		c.send([]byte(serialcon.KeyF11))
	case key.Matches(k, consoleCtrlCKey):
		c.send([]byte(serialcon.KeyCtrlC))
	case key.Matches(k, consoleSSHKey):
		return c.setupSSH()
	case key.Matches(k, consoleSearchKey):
		c.searching, c.query, c.notFound = true, "", false
	case key.Matches(k, consoleNextKey):
		c.find(k.String() == "N")
	case c.pane != nil:
		return c.pane.Update(k)
	}
	return nil
}

func (c *consoleScreen) searchKey(k tea.KeyPressMsg) {
	switch k.String() {
	case "enter":
		c.searching = false
		c.find(true)
	case "esc", "ctrl+]":
		c.searching = false
	case "backspace":
		if r := []rune(c.query); len(r) > 0 {
			c.query = string(r[:len(r)-1])
		}
	default:
		if k.Text != "" {
			c.query += k.Text
		}
	}
}

// find moves to the next match of the query, backwards from the view by
// default (the newest first), forwards with N.
func (c *consoleScreen) find(backward bool) {
	if c.query == "" || c.pane == nil {
		return
	}
	c.notFound = !c.pane.Find(c.query, backward)
}
