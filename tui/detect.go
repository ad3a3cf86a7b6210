package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

func init() { register(step.Detect, "Recover", newRecoverScreen) }

// recoverScreen tells the person how to put the board in USB recovery mode,
// watches the bus, and shows the board when it comes: module, port, speed,
// and what to fix. Several boards: the person chooses one. Continue passes
// its usb_instance and module on as facts.
type recoverScreen struct {
	sess *Session
	st   *Styles
	task *Task
	spin spinner.Model
	w, h int

	scanned  bool            // the first scan has come back
	devs     []detect.Device // every Jetson device on the bus, as of the last snapshot
	boards   []detect.Device // the ones in recovery mode
	sel      string          // usb_instance of the chosen board
	left     string          // a board that was there left recovery mode
	busWarn  string          // listing the bus fails
	confirm  bool            // asking before continuing with another module
	drawing  bool            // small screens: the drawing instead of the steps
	since    time.Time
	watchErr error
	auto     *detect.Device // the bench's next board, taken without asking
	autoUsed bool           // once: coming back here asks
}

// carriedBoard is the board to take without asking, on a bench whose
// board before was taken here: the only board in recovery mode, with
// nothing to warn about. Several boards, or one with a warning, are the
// person's choice.
func (r *recoverScreen) carriedBoard() (detect.Device, bool) {
	if c := r.sess.carry; c == nil || r.autoUsed || !c.answers.recovered || len(r.boards) != 1 || len(r.boards[0].Warnings) > 0 {
		return detect.Device{}, false
	}
	return r.boards[0], true
}

var (
	chooseKey  = key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choose board"))
	drawingKey = key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "drawing/steps"))
	profileKey = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "change profile"))
	anywayKey  = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "use it anyway"))
	rewatchKey = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "watch again"))
)

func newRecoverScreen(s *Session, st *Styles) Screen {
	return &recoverScreen{sess: s, st: st, spin: spinner.New(spinner.WithSpinner(spinner.Dot))}
}

// Init starts watching the bus; coming back to the screen starts afresh.
func (r *recoverScreen) Init() tea.Cmd {
	if r.task != nil {
		r.task.Cancel()
	}
	r.scanned, r.devs, r.boards, r.left, r.busWarn, r.confirm, r.watchErr = false, nil, nil, "", "", false, nil
	r.since = time.Now()
	opt := detect.WatchOptions{Options: detect.Options{Profile: r.sess.Profile}}
	if r.sess.Profiles != nil {
		opt.Profiles = r.sess.Profiles.All()
	}
	usb := r.sess.Hardware.USB
	log, _ := r.sess.Step().OpenLog("log") // without it the watch goes on: Warn says so
	t, cmd := r.sess.StartWatch(func(ctx context.Context, sink step.Sink) (any, error) {
		defer log.Close()
		log.Warn(sink)
		sink = step.Tee(log.Stamped(), sink)
		if usb == nil {
			return nil, step.Errorf("no-usb", "this bench has no USB lister", "jetup cannot see USB here")
		}
		return nil, detect.Watch(ctx, usb, opt, sink)
	})
	r.task = t
	return tea.Batch(cmd, r.spin.Tick)
}

// Leave stops the watch when the wizard moves to another step.
func (r *recoverScreen) Leave() {
	if r.task != nil {
		r.task.Cancel()
	}
}

func (r *recoverScreen) SetSize(w, h int)   { r.w, r.h = w, h }
func (r *recoverScreen) CapturesKeys() bool { return false }

func (r *recoverScreen) Keys() []key.Binding {
	if r.watchErr != nil {
		return []key.Binding{rewatchKey}
	}
	if b, ok := r.chosen(); ok {
		ks := []key.Binding{keys.Continue}
		if len(r.boards) > 1 {
			ks = append(ks, chooseKey)
		}
		if b.Has(detect.WarnOtherModule) {
			ks = append(ks, profileKey)
			if r.confirm {
				ks = append(ks, anywayKey)
			}
		}
		return ks
	}
	if _, ok := recoveryDrawings[r.controls()]; ok {
		return []key.Binding{drawingKey}
	}
	return nil
}

func (r *recoverScreen) controls() string {
	if p := r.sess.Profile; p != nil && p.Recovery != nil {
		return p.Recovery.Controls
	}
	return ""
}

// chosen is the selected board in recovery mode.
func (r *recoverScreen) chosen() (detect.Device, bool) {
	for _, b := range r.boards {
		if b.USBInstance == r.sel {
			return b, true
		}
	}
	return detect.Device{}, false
}

func (r *recoverScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case TaskEventMsg:
		if msg.Task != r.task {
			return r, nil
		}
		r.event(msg.Event)
		if b := r.auto; b != nil {
			r.auto, r.autoUsed = nil, true
			return r, r.finish(*b)
		}
		return r, r.task.Next()
	case TaskDoneMsg:
		if msg.Task == r.task && msg.Err != nil {
			r.watchErr = msg.Err
		}
		return r, nil
	case spinner.TickMsg:
		var cmd tea.Cmd
		r.spin, cmd = r.spin.Update(msg)
		return r, cmd
	case tea.KeyPressMsg:
		return r, r.key(msg)
	}
	return r, nil
}

// event takes in what the watch reports.
func (r *recoverScreen) event(e step.Event) {
	switch e := e.(type) {
	case detect.Snapshot:
		r.scanned, r.busWarn = true, ""
		r.devs, r.boards = e.Devices, detect.Boards(e.Devices)
		if _, ok := r.chosen(); !ok {
			r.sel, r.confirm = "", false
			if len(r.boards) > 0 {
				r.sel = r.boards[0].USBInstance
			}
		}
		if len(r.boards) > 0 {
			r.left = ""
		}
		if b, ok := r.carriedBoard(); ok {
			r.auto = &b
		}
	case detect.Change:
		if e.Event == detect.Disappear && e.Mode == detect.Recovery {
			r.left = fmt.Sprintf("The %s at %s left recovery mode (unplugged, or it rebooted). Put it in recovery mode again.", e.Module, e.USBInstance)
		}
	case step.Warning:
		r.busWarn = e.Warning
		if e.Next != "" {
			r.busWarn += " (" + e.Next + ")"
		}
	}
}

func (r *recoverScreen) key(k tea.KeyPressMsg) tea.Cmd {
	if r.watchErr != nil {
		if key.Matches(k, rewatchKey) {
			return tea.Batch(r.Init(), Retry())
		}
		return nil
	}
	b, ok := r.chosen()
	switch {
	case !ok && key.Matches(k, drawingKey):
		r.drawing = !r.drawing
	case ok && key.Matches(k, chooseKey) && len(r.boards) > 1:
		i := 0
		for j, x := range r.boards {
			if x.USBInstance == r.sel {
				i = j
			}
		}
		if k.String() == "down" {
			i = (i + 1) % len(r.boards)
		} else {
			i = (i + len(r.boards) - 1) % len(r.boards)
		}
		r.sel, r.confirm = r.boards[i].USBInstance, false
	case ok && key.Matches(k, keys.Continue):
		if b.Has(detect.WarnOtherModule) && !r.confirm {
			r.confirm = true
			return nil
		}
		return r.finish(b)
	case ok && r.confirm && key.Matches(k, anywayKey):
		return r.finish(b)
	case ok && b.Has(detect.WarnOtherModule) && key.Matches(k, profileKey):
		r.task.Cancel()
		suggest := ""
		if len(b.Profiles) > 0 {
			suggest = b.Profiles[0]
		}
		return func() tea.Msg {
			return ChangeProfileMsg{Suggest: suggest, Why: "the board is " + b.Module + ": changed profile"}
		}
	}
	return nil
}

// finish passes the board on to the flash step.
func (r *recoverScreen) finish(b detect.Device) tea.Cmd {
	r.task.Cancel()
	r.sess.SetFact(step.FactUSBInstance, b.USBInstance)
	r.sess.SetFact(step.FactModule, b.Module)
	r.sess.SetFact(step.FactUSBSerial, b.Serial)
	r.sess.answers.recovered = true
	sum := fmt.Sprintf("%s in recovery mode at %s", b.Module, b.USBInstance)
	return r.sess.doneNow(DoneMsg{Outcome: runrec.Success, Summary: sum, Details: map[string]any{"device": b}})
}

func (r *recoverScreen) View() string {
	if _, ok := r.chosen(); ok {
		return r.boardView()
	}
	return r.waitingView()
}

// waitingView: the procedure, the drawing, and the waiting indicator.
func (r *recoverScreen) waitingView() string {
	p := r.sess.Profile
	top := []string{r.st.Title.Render("Put the board in USB recovery mode")}
	var steps []string
	if p != nil && p.Recovery != nil {
		top = append(top, wrapIndent("Connect: "+p.Recovery.Port, r.w, ""))
		for i, s := range p.Recovery.Procedure {
			steps = append(steps, hanging(fmt.Sprintf("%d. ", i+1), s, r.w))
		}
	}
	status := r.statusLines()
	drawing := recoveryDrawings[r.controls()]
	avail := r.h - lineCount(top...) - lineCount(status...) - 2

	var body string
	procedure := strings.Join(steps, "\n")
	switch {
	case drawing == "":
		body = fitLines(procedure, avail)
	case r.w >= 120:
		// Wide: the steps beside the drawing.
		dw := lipgloss.Width(drawing)
		steps = steps[:0]
		for i, s := range p.Recovery.Procedure {
			steps = append(steps, hanging(fmt.Sprintf("%d. ", i+1), s, min(r.w-dw-4, 76)))
		}
		body = lipgloss.JoinHorizontal(lipgloss.Top, strings.Join(steps, "\n"), "    ", drawing)
		body = fitLines(body, avail)
	case lineCount(procedure, drawing)+1 <= avail:
		body = procedure + "\n\n" + drawing
	case r.drawing:
		body = fitLines(drawing, avail-1) + "\n" + r.st.Subtle.Render("d: back to the steps")
	default:
		body = fitLines(procedure, avail-1) + "\n" + r.st.Subtle.Render("d: show the drawing")
	}
	return strings.Join(top, "\n") + "\n\n" + body + "\n\n" + strings.Join(status, "\n")
}

// statusLines: waiting, what else is on the bus, what went wrong.
func (r *recoverScreen) statusLines() []string {
	var out []string
	if r.watchErr != nil {
		return []string{r.st.Bad.Render("✗ " + truncate("Cannot watch USB: "+r.watchErr.Error(), r.w-2)),
			r.st.Subtle.Render(truncate(step.NextOf(r.watchErr), r.w))}
	}
	if r.left != "" {
		out = append(out, r.st.Warn.Render(wrapIndent("! "+r.left, r.w, "")))
	}
	wait := "Waiting for the board on USB"
	if p := r.sess.Profile; p != nil && p.Recovery != nil {
		ids := make([]string, len(p.Recovery.USBIDs))
		for i, u := range p.Recovery.USBIDs {
			ids[i] = u.ID
		}
		wait += " (" + strings.Join(ids, ", ") + ")"
	}
	elapsed := time.Since(r.since).Round(time.Second)
	out = append(out, truncate(fmt.Sprintf("%s %s… %s", r.spin.View(), wait, elapsed), r.w))
	for _, d := range r.devs {
		line := fmt.Sprintf("  on USB: %s at %s", d.Module, d.USBInstance)
		out = append(out, r.st.Subtle.Render(truncate(line, r.w)))
		if d.Note != "" {
			out = append(out, r.st.Subtle.Render(wrapIndent(d.Note, r.w, "    ")))
		}
	}
	if r.busWarn != "" {
		out = append(out, r.st.Warn.Render(wrapIndent("! "+r.busWarn, r.w, "")))
	}
	return out
}

// boardView: the chosen board's card, the others to choose from, and what
// to fix. When the window is short the card loses its frame before the
// warnings lose lines.
func (r *recoverScreen) boardView() string {
	b, _ := r.chosen()
	var head []string
	if len(r.boards) == 1 {
		head = append(head, r.st.Good.Render("✓ ")+r.st.Title.Render("Board in recovery mode"))
	} else {
		head = append(head, r.st.Title.Render(fmt.Sprintf("%d boards in recovery mode: choose the one to flash", len(r.boards))))
		for _, x := range r.boards {
			mark := "  "
			if x.USBInstance == r.sel {
				mark = r.st.Accent.Render("▸ ")
			}
			warn := "  "
			if len(x.Warnings) > 1 || (len(x.Warnings) == 1 && x.Warnings[0].ID != detect.WarnSeveral) {
				warn = r.st.Warn.Render("! ")
			}
			speed := "speed unknown"
			if x.Speed > 0 {
				speed = strings.SplitN(x.SpeedText(), " (", 2)[0]
			}
			head = append(head, mark+warn+truncate(fmt.Sprintf("%-8s %s  %s", x.USBInstance, x.Module, speed), r.w-4))
		}
	}

	label := func(k, v string) string {
		return r.st.Subtle.Render(fmt.Sprintf("%-7s", k)) + " " + truncate(v, r.w-14)
	}
	card := strings.Join([]string{
		label("Module", r.st.Bold.Render(b.Module)),
		label("Port", "USB instance "+b.USBInstance+" ("+b.Node+")"),
		label("Speed", b.SpeedText()),
		label("Id", b.ID()+somText(b.SoM)),
	}, "\n")

	var foot string
	if p := r.sess.Profile; r.confirm && p != nil {
		foot = r.st.Warn.Render(hanging("! ", fmt.Sprintf("The %s firmware is not for this %s. y uses it anyway, p changes the profile.",
			p.Name, b.Module), r.w))
	} else {
		foot = "enter: use this board for the flash step"
	}

	var notes []string
	for _, w := range b.Warnings {
		if w.ID == detect.WarnSeveral {
			continue // the list above says it
		}
		notes = append(notes, r.st.Warn.Render(hanging("! ", w.Warning, r.w)))
		notes = append(notes, r.st.Subtle.Render(hanging("  → ", w.Next, r.w)))
	}
	if b.CannotTell != "" && r.sess.Profile != nil {
		notes = append(notes, r.st.Subtle.Render(hanging("", "The id cannot tell "+b.CannotTell+": the profile says it ("+r.sess.Profile.Name+").", r.w)))
	}
	body := strings.Join(notes, "\n")
	boxed := r.st.Box.Render(card)
	if len(notes) == 0 {
		return strings.Join(head, "\n") + "\n\n" + boxed + "\n\n" + foot
	}
	if lineCount(append(head, boxed, body, foot)...)+3 <= r.h {
		return strings.Join(head, "\n") + "\n\n" + boxed + "\n\n" + body + "\n\n" + foot
	}
	avail := r.h - lineCount(append(head, card, foot)...) - 3
	return strings.Join(head, "\n") + "\n\n" + card + "\n\n" + fitLines(body, avail) + "\n" + foot
}

func somText(som string) string {
	if som == "" {
		return ""
	}
	return " · som " + som
}
