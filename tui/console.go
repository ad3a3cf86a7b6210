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
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

func init() { screens[step.Console] = newConsoleScreen }

// consoleScreen is the Watch step: the board's console in a pane, the boot
// stages as a track above it, the facts beside it, and a focus mode that
// sends keys to the board. Facts flow to the later steps as they appear
// (the push step needs the address and host name).
type consoleScreen struct {
	sess *Session
	st   *Styles

	con    *serialcon.Console
	task   *Task
	logs   []io.Closer
	term   *serialcon.Term
	result *serialcon.Result
	err    error
	ending bool // enter was pressed: stop the session, then end the step

	shown     atomic.Int64 // bytes of board output drawn (read by the benchmark)
	status    string       // connection state, in words
	online    bool
	unplugged bool
	reached   map[string]bool
	current   string
	stageLine string // the line that showed the current stage (tells the UEFI shell from Linux)
	ssh       consoleSSH
	kWarned   bool // warn says why k did nothing
	facts     []serialcon.Fact
	warn      string

	follow bool
	anchor int64 // first row shown when not following, counted from the first row ever
	focus  bool

	searching bool
	query     string
	match     int // the row of the current match, -1 for none
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
	consoleScrollKey = key.NewBinding(key.WithKeys("up", "down", "pgup", "pgdown", "home"), key.WithHelp("↑/↓/pgup", "scroll back"))
	consoleFollowKey = key.NewBinding(key.WithKeys("end", "f"), key.WithHelp("end", "follow"))
	consoleRetryKey  = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "try again"))
)

func newConsoleScreen(s *Session, st *Styles) Screen {
	return &consoleScreen{sess: s, st: st, follow: true, match: -1, reached: map[string]bool{}, w: 80, h: 20}
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
	c.result, c.err, c.ending, c.warn = nil, nil, false, ""
	c.status, c.online = "looking for the console port…", false
	c.reached, c.current, c.stageLine, c.facts = map[string]bool{}, "", "", nil
	c.ssh = consoleSSH{}
	c.term = serialcon.NewTerm(c.termSize())
	c.follow, c.match = true, -1

	o := serialcon.Options{Ports: c.sess.Hardware.Serial, Profile: c.sess.Profile}
	if o.Profile != nil {
		o.Config.Baud = o.Profile.Console.Baud
	}
	if rs := c.sess.Step(); rs != nil {
		if raw, err := rs.CreateLog("raw"); err == nil {
			o.RawLog = raw
			c.logs = append(c.logs, raw)
		}
		if text, err := rs.CreateLog("log"); err == nil {
			o.TextLog = text
			c.logs = append(c.logs, text)
		}
	}
	c.con = serialcon.New(o)
	con := c.con
	// Watching a console is no work in progress: esc, s and q leave without
	// asking to stop it, and it keeps logging while later steps run (the
	// push's reboot shows up in the same log). It ends with the wizard.
	t, cmd := c.sess.StartWatch(func(ctx context.Context, sink step.Sink) (any, error) {
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
	if c.term != nil {
		w, h, _ := c.termSize()
		c.term.Resize(w, h)
	}
}

const factsWidth = 34

func (c *consoleScreen) wide() bool { return c.w >= 110 }

// termSize is the emulated terminal: the pane's width, and at least the
// 25 rows the firmware draws its menus for.
func (c *consoleScreen) termSize() (int, int, int) {
	return max(c.paneW, 20), max(c.paneH, 25), serialcon.DefaultScrollback
}

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
		return []key.Binding{keys.Continue, consoleSSHKey, consoleFocusKey, consoleSearchKey, consoleNextKey, consoleScrollKey,
			consoleFollowKey, consoleCtrlCKey, consoleEscKey, consoleF11Key}
	}
	return []key.Binding{keys.Continue, consoleFocusKey, consoleEscKey, consoleF11Key, consoleCtrlCKey, consoleSearchKey,
		consoleNextKey, consoleScrollKey, consoleFollowKey, consoleSSHKey}
}

func (c *consoleScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case TaskEventMsg:
		if msg.Task != c.task {
			return c, nil
		}
		c.event(msg.Event)
		return c, c.task.Next()
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
		_, _ = c.term.Write(e.Data)
		if r := c.term.Replies(); len(r) > 0 {
			_ = c.con.Send(r) // answer the board's cursor-position query
		}
	case serialcon.Stage:
		c.stage(e.Stage)
		c.stageLine = safe.Text(e.Line) // the pane is a terminal; the status line is not
	case serialcon.Fact:
		c.fact(e)
	case serialcon.Finding:
		c.warn = e.What + ": " + e.Next
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
	_, _ = c.term.Write([]byte("\r\n\x1b[7m" + s + "\x1b[0m\r\n"))
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
		return Done(runrec.Failed, "the console could not be watched: "+d.Err.Error(), d.Err)
	}
	if c.ending {
		return c.finish()
	}
	c.status = "the console session ended"
	return nil
}

// finish ends the step with what the console showed.
func (c *consoleScreen) finish() tea.Cmd {
	sum := c.summary()
	details := c.result
	return func() tea.Msg {
		return DoneMsg{Outcome: runrec.Success, Summary: sum, Details: details}
	}
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
	c.follow = true
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
		return tea.Sequence(Retry(), func() tea.Msg { return consoleStartMsg{} })
	case key.Matches(k, consoleFocusKey) && c.running():
		c.focus, c.follow = true, true
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
	case key.Matches(k, consoleFollowKey):
		c.follow, c.match = true, -1
	case key.Matches(k, consoleScrollKey):
		c.scroll(k.String())
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
	if c.query == "" || c.term == nil {
		return
	}
	top := c.top()
	from := top + c.paneH - 1
	if c.match >= 0 {
		from = c.match - 1
		if !backward {
			from = c.match + 1
		}
	} else if !backward {
		from = top
	}
	row, ok := c.term.Find(c.query, max(from, 0), backward)
	if !ok {
		c.notFound = true
		return
	}
	c.notFound = false
	c.match = row
	// Show the match in the middle of the pane.
	c.follow = false
	c.anchor = c.term.Dropped() + int64(max(row-c.paneH/2, 0))
}

func (c *consoleScreen) scroll(k string) {
	top := c.top()
	c.match = -1
	switch k {
	case "up":
		top--
	case "down":
		top++
	case "pgup":
		top -= c.paneH - 1
	case "pgdown":
		top += c.paneH - 1
	case "home":
		top = 0
	}
	last := max(c.term.Lines()-c.paneH, 0)
	top = max(0, min(top, last))
	c.follow = top >= last
	c.anchor = c.term.Dropped() + int64(top)
}

// top is the first row the pane shows.
func (c *consoleScreen) top() int {
	if c.term == nil {
		return 0
	}
	last := max(c.term.Lines()-c.paneH, 0)
	if c.follow {
		return last
	}
	return max(0, min(int(c.anchor-c.term.Dropped()), last))
}

func (c *consoleScreen) View() string {
	var b strings.Builder
	b.WriteString(c.header() + "\n")
	b.WriteString(c.track() + "\n")
	pane := c.pane()
	if c.wide() {
		// The pane's rows are already padded to its width: the facts
		// column is put beside them row by row (cheaper than lipgloss
		// joining 60 long styled rows every frame).
		side := strings.Split(c.factsColumn(), "\n")
		for i, row := range pane {
			b.WriteString(row + " ")
			if i < len(side) {
				b.WriteString(fit(side[i], factsWidth))
			}
			b.WriteString("\n")
		}
	} else {
		b.WriteString(fit(c.factsLine(), c.w) + "\n")
		b.WriteString(strings.Join(pane, "\n") + "\n")
	}
	b.WriteString(c.modeLine())
	return b.String()
}

func (c *consoleScreen) header() string {
	mark := c.st.Warn.Render("○")
	switch {
	case c.err != nil:
		mark = c.st.Bad.Render("✗")
	case c.online:
		mark = c.st.Good.Render("●")
	}
	title := c.st.Title.Render("Watch the console")
	right := mark + " " + c.status
	room := c.w - lipgloss.Width(title) - 2
	if lipgloss.Width(right) > room {
		right = fit(right, max(room, 10))
	}
	gap := max(c.w-lipgloss.Width(title)-lipgloss.Width(right), 1)
	return title + strings.Repeat(" ", gap) + right
}

// stageLabels are the track's short names.
var stageLabels = map[string]string{
	serialcon.StageMB1: "MB1", serialcon.StageMB2: "MB2", serialcon.StageFirmware: "firmware", serialcon.StageUBoot: "U-Boot",
	serialcon.StageUEFI: "UEFI", serialcon.StageUEFIMenu: "menu",
	serialcon.StageKernel: "kernel", serialcon.StageNixOS1: "stage-1", serialcon.StageNixOS2: "stage-2",
	serialcon.StageLogin: "login", serialcon.StageShell: "shell",
}

// track draws the boot stages: ✓ passed, ▸ the current one, plain ahead.
func (c *consoleScreen) track() string {
	var parts []string
	pi := c.reached[serialcon.StageFirmware] || c.reached[serialcon.StageUBoot]
	for _, s := range serialcon.Stages {
		label := stageLabels[s]
		// One family's stages: a Jetson never shows the Pi's firmware
		// or U-Boot, a Pi never MB1/MB2.
		pistage := s == serialcon.StageFirmware || s == serialcon.StageUBoot
		if pistage != pi && (s == serialcon.StageMB1 || s == serialcon.StageMB2 || pistage) && !c.reached[s] {
			continue
		}
		switch {
		case s == c.current:
			parts = append(parts, c.st.Accent.Render("▸"+label))
		case c.reached[s]:
			parts = append(parts, c.st.Good.Render("✓"+label))
		default:
			parts = append(parts, c.st.Subtle.Render(label))
		}
	}
	line := strings.Join(parts, " ")
	if lipgloss.Width(line) > c.w {
		line = "boot: " + c.st.Accent.Render(orNone(c.current))
	}
	return line
}

func orNone(s string) string {
	if s == "" {
		return "not started"
	}
	return s
}

var factLabels = []struct{ id, label, short string }{
	{serialcon.FactFirmwareVersion, "firmware", "fw"},
	{serialcon.FactNixOSVersion, "NixOS", "NixOS"},
	{serialcon.FactHostname, "host name", "host"},
	{serialcon.FactIP, "address", "ip"},
	{serialcon.FactHostKey, "host key", "key"},
	{serialcon.FactError, "error", "✗"},
}

func (c *consoleScreen) value(id string) string {
	for _, f := range c.facts {
		if f.Fact == id {
			return f.Value
		}
	}
	return ""
}

// narrowOrder puts first what the next steps need, when only one line fits.
// After the address and host name: errors, then the host key (once k has
// asked for it, it is what the push needs).
var narrowOrder = []int{3, 2, 5, 4, 0, 1}

func (c *consoleScreen) factsLine() string {
	var parts []string
	for _, i := range narrowOrder {
		l := factLabels[i]
		if v := c.value(l.id); v != "" {
			s := l.short + " " + v
			if l.id == serialcon.FactError {
				s = c.st.Bad.Render(s)
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return c.st.Subtle.Render("no facts yet: the firmware version, host name and address appear as the board prints them")
	}
	return strings.Join(parts, " · ")
}

func (c *consoleScreen) factsColumn() string {
	var b strings.Builder
	b.WriteString(c.st.Bold.Render("Facts") + "\n")
	for _, l := range factLabels {
		v := c.value(l.id)
		if v == "" {
			v = c.st.Subtle.Render("–")
		} else if l.id == serialcon.FactError {
			v = c.st.Bad.Render(wrapIndent(v, factsWidth, "  "))
			b.WriteString(c.st.Bad.Render("✗ error") + "\n" + v + "\n")
			continue
		}
		b.WriteString(fmt.Sprintf("%-10s %s\n", l.label, truncate(v, factsWidth-11)))
	}
	if c.warn != "" {
		b.WriteString("\n" + c.st.Warn.Render(wrapIndent(c.warn, factsWidth, "")) + "\n")
	}
	// k's part before the address note: a short window cuts the column.
	b.WriteString(c.sshSection())
	if ip := c.value(serialcon.FactIP); ip != "" {
		b.WriteString("\n" + c.st.Subtle.Render(wrapIndent("The push step will use "+ip+".", factsWidth, "")) + "\n")
	}
	return b.String()
}

// pane renders the visible rows of the console, cut and padded to the
// pane's width.
func (c *consoleScreen) pane() []string {
	if c.term == nil {
		return nil
	}
	top := c.top()
	rows := c.term.Render(top, c.paneH, c.paneW)
	if c.match >= top && c.match < top+len(rows) {
		rows[c.match-top] = c.highlight(c.match)
	}
	if c.err != nil {
		// What went wrong and what to do, over the console it stopped.
		text := c.st.Bad.Render(wrapIndent("✗ "+c.err.Error(), c.paneW, "")) + "\n"
		if next := step.NextOf(c.err); next != "" {
			text += wrapIndent("Next: "+next, c.paneW, "") + "\n"
		}
		msg := strings.Split(text, "\n")
		rows = append(msg, rows...)
		rows = rows[:min(len(rows), c.paneH)]
	}
	for len(rows) < c.paneH {
		rows = append(rows, "")
	}
	for i, r := range rows {
		// Every row ends its own styles, so a colour left open by the
		// board never bleeds into the facts column or the next row.
		if pad := c.paneW - ansi.StringWidth(r); pad > 0 {
			rows[i] = r + "\x1b[m" + strings.Repeat(" ", pad)
		} else {
			rows[i] = r + "\x1b[m"
		}
	}
	return rows
}

// highlight shows a search match in reverse video on its row's plain text.
func (c *consoleScreen) highlight(row int) string {
	_, plain := c.term.Row(row)
	plain = truncate(plain, c.paneW)
	i := strings.Index(strings.ToLower(plain), strings.ToLower(c.query))
	if i < 0 {
		return plain
	}
	j := i + len(c.query)
	return plain[:i] + "\x1b[7m" + plain[i:j] + "\x1b[27m" + plain[j:]
}

func (c *consoleScreen) modeLine() string {
	var s string
	switch {
	case c.focus:
		s = c.st.Accent.Render("TYPING TO THE BOARD") + " · every key goes to the board · ctrl+] to stop"
	case c.searching:
		s = "search: " + c.query + "█"
	case c.err != nil:
		s = c.st.Bad.Render("✗ stopped") + " · r: try again · s: skip this step"
	case c.notFound:
		s = c.st.Warn.Render(fmt.Sprintf("%q not found", c.query)) + " · / to search again"
	case !c.follow:
		s = fmt.Sprintf("paused at line %d of %d · end to follow", c.top()+1, c.term.Lines())
		if c.match >= 0 {
			s = fmt.Sprintf("match at line %d · n/N next/previous · end to follow", c.match+1)
		}
	case c.warn != "" && !c.wide():
		s = c.st.Warn.Render(c.warn)
	case c.ssh.state != sshIdle && !c.wide():
		s = c.sshShort()
	case c.value(serialcon.FactIP) != "":
		s = "following · enter: continue with " + c.value(serialcon.FactIP)
		if c.atLinuxShell() && c.ssh.state == sshIdle {
			s = "following · k: SSH key · enter: continue with " + c.value(serialcon.FactIP)
		}
	default:
		s = "following · i: type to the board · e: ESC into the UEFI menu while it counts down"
	}
	return fit(s, c.w)
}

// fit cuts styled text to n columns with an ellipsis.
func fit(s string, n int) string { return ansi.Truncate(s, n, "…") }
