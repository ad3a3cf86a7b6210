package tui

import (
	"context"
	"fmt"
	"os"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

func init() { register(step.Write, "Write", newWriteScreen) }

type writeState int

const (
	wsImage    writeState = iota // pick the installer or a file
	wsBuilding                   // nix build of the profile's installer
	wsDisks                      // pick the disk
	wsPreparing
	wsConfirm // what will be erased; y or the typed name
	wsWriting // write, flush, verify
	wsDone    // receipt, power off
	wsFailed
	wsStationConfirm // what the station will do; y starts it
	wsStation        // one bar per slot until x
	wsStationDone    // the counts and each card
)

// writeScreen writes the installer: image, disk, confirmation, progress
// with the rate graph, verify, receipt. Every decision is the media
// package's; the screen only shows it and asks.
type writeScreen struct {
	sess  *Session
	st    *Styles
	state writeState
	w, h  int

	imageChoice int
	fileInput   textinput.Model
	editingFile bool
	image       string

	task  *Task
	spin  spinner.Model
	logs  []string
	stage string

	disks    []media.Disk
	reasons  [][]media.Reason
	cursor   int
	watching bool
	watchCtx context.CancelFunc

	plan      *media.Plan
	nameInput textinput.Model

	buildProg  *media.BuildProgress // the installer's nix build
	prog       media.Progress
	samples    []media.RateSample
	receipt    *media.Receipt
	err        error
	poweredOff string

	// Several sticks at once (write_many.go): the marked disks, the
	// batch, one bar per stick, a receipt each.
	marked   map[string]bool
	batch    *media.Batch
	targets  *media.TargetsProgress
	receipts []*media.Receipt
	// The station: its slots now, and its end.
	stationProg *media.StationProgress
	stationRes  *media.StationResult
}

var (
	wkUp       = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "choose"))
	wkDown     = key.NewBinding(key.WithKeys("down", "j"))
	wkErase    = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "erase and write"))
	wkPowerOff = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "power off the stick"))
	wkRetry    = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "start over"))
	wkStop     = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop writing"))
)

func newWriteScreen(s *Session, st *Styles) Screen {
	fi := textinput.New()
	fi.Placeholder = "/path/to/nixos.img.zst"
	ni := textinput.New()
	return &writeScreen{sess: s, st: st, fileInput: fi, nameInput: ni, spin: spinner.New(spinner.WithSpinner(spinner.Dot))}
}

// Init: on a bench's next board the installer chosen for the board before
// is taken again without asking (the label screen listed it), while it is
// still there. The disk is still picked and confirmed for every card.
func (w *writeScreen) Init() tea.Cmd {
	if w.sess.carry == nil {
		return nil
	}
	img := w.sess.Facts[step.FactInstaller]
	if fi, err := os.Stat(img); img == "" || err != nil || fi.IsDir() {
		return nil
	}
	w.image = img
	return w.toDisks()
}

func (w *writeScreen) SetSize(width, height int) {
	w.w, w.h = width, height
	w.fileInput.SetWidth(max(width-6, 10))
	w.nameInput.SetWidth(20)
}

func (w *writeScreen) CapturesKeys() bool {
	return w.editingFile || (w.state == wsConfirm && w.needsTypedName())
}

// needsTypedName is true when the confirmation is names typed out.
func (w *writeScreen) needsTypedName() bool {
	if w.batch != nil {
		return w.batch.NeedsTypedName()
	}
	return w.plan != nil && w.plan.NeedsTypedName
}

func (w *writeScreen) Keys() []key.Binding {
	switch w.state {
	case wsImage:
		return []key.Binding{wkUp, keys.Continue}
	case wsDisks:
		return []key.Binding{wkUp, wkMark, keys.Continue, wkStation}
	case wsStationConfirm:
		return []key.Binding{wkStart, key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "back"))}
	case wsStation:
		return []key.Binding{wkEnd}
	case wsStationDone:
		return []key.Binding{keys.Continue}
	case wsConfirm:
		if w.needsTypedName() {
			return []key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "erase and write"))}
		}
		return []key.Binding{wkErase, key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "another disk"))}
	case wsWriting:
		return []key.Binding{wkStop}
	case wsDone:
		return []key.Binding{keys.Continue, wkPowerOff}
	case wsFailed:
		return []key.Binding{wkRetry, keys.Continue}
	}
	return nil
}

// imageOptions are the installer sources on offer.
func (w *writeScreen) imageOptions() []string {
	var out []string
	if p := w.sess.Profile; p != nil && p.Installer.Flake != "" {
		out = append(out, fmt.Sprintf("Build the profile's installer (nix build %s)", p.InstallerRef()))
	}
	if f := w.sess.Facts[step.FactInstaller]; f != "" {
		out = append(out, "The installer chosen before: "+f)
	}
	return append(out, "An image file…")
}

func (w *writeScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case TaskEventMsg:
		if msg.Task != w.task {
			return w, nil
		}
		w.onEvent(msg.Event)
		return w, w.task.Next()
	case TaskDoneMsg:
		if msg.Task != w.task {
			return w, nil
		}
		return w, w.onDone(msg)
	case disksMsg:
		w.cursor = pickCursor(w.disks, w.cursor, msg.disks, msg.reasons)
		w.disks, w.reasons = msg.disks, msg.reasons
		if msg.err != nil {
			w.err = msg.err
		}
		return w, nil
	case disksChangedMsg:
		if w.state != wsDisks {
			return w, w.waitChanges(msg.ch)
		}
		return w, tea.Batch(w.listDisks(), w.waitChanges(msg.ch))
	case spinner.TickMsg:
		if w.state != wsBuilding && w.state != wsPreparing && w.state != wsWriting && w.state != wsStation {
			return w, nil
		}
		var cmd tea.Cmd
		w.spin, cmd = w.spin.Update(msg)
		return w, cmd
	case tea.KeyPressMsg:
		return w, w.onKey(msg)
	}
	return w, nil
}

func (w *writeScreen) onKey(k tea.KeyPressMsg) tea.Cmd {
	switch w.state {
	case wsImage:
		if w.editingFile {
			switch k.String() {
			case "enter":
				w.editingFile = false
				w.image = strings.TrimSpace(w.fileInput.Value())
				if w.image == "" {
					return nil
				}
				return w.toDisks()
			case "esc":
				w.editingFile = false
				w.fileInput.Blur()
				return nil
			}
			var cmd tea.Cmd
			w.fileInput, cmd = w.fileInput.Update(k)
			return cmd
		}
		opts := w.imageOptions()
		switch {
		case key.Matches(k, wkUp):
			w.imageChoice = max(w.imageChoice-1, 0)
		case key.Matches(k, wkDown):
			w.imageChoice = min(w.imageChoice+1, len(opts)-1)
		case key.Matches(k, keys.Continue):
			switch o := opts[w.imageChoice]; {
			case strings.HasPrefix(o, "Build"):
				return w.build()
			case strings.HasPrefix(o, "The installer chosen"):
				w.image = w.sess.Facts[step.FactInstaller]
				return w.toDisks()
			default:
				w.editingFile = true
				return w.fileInput.Focus()
			}
		}
	case wsDisks:
		switch {
		case key.Matches(k, wkUp):
			w.cursor = max(w.cursor-1, 0)
		case key.Matches(k, wkDown):
			w.cursor = min(w.cursor+1, len(w.disks)-1)
		case key.Matches(k, wkMark):
			w.toggleMark()
		case key.Matches(k, wkStation):
			w.state, w.err = wsStationConfirm, nil
		case key.Matches(k, keys.Continue) && len(w.markedTargets()) > 0:
			return w.prepareBatch(w.markedTargets())
		case key.Matches(k, keys.Continue) && len(w.disks) > 0:
			return w.prepare(w.disks[w.cursor])
		}
	case wsStationConfirm, wsStation, wsStationDone:
		return w.stationKey(k)
	case wsConfirm:
		if w.batch != nil {
			return w.confirmBatchKey(k)
		}
		if k.String() == "esc" || (!w.plan.NeedsTypedName && k.String() == "n") {
			w.state = wsDisks
			w.nameInput.Blur()
			w.nameInput.SetValue("")
			return w.listDisks()
		}
		if w.plan.NeedsTypedName {
			if k.String() == "enter" {
				if strings.TrimSpace(w.nameInput.Value()) == w.plan.Confirmation() {
					return w.execute()
				}
				w.err = fmt.Errorf("typed %q, not %q: nothing was written", w.nameInput.Value(), w.plan.Confirmation())
				w.nameInput.SetValue("")
				return nil
			}
			var cmd tea.Cmd
			w.nameInput, cmd = w.nameInput.Update(k)
			return cmd
		}
		if key.Matches(k, wkErase) {
			return w.execute()
		}
	case wsWriting:
		if key.Matches(k, wkStop) && w.task != nil {
			w.task.Cancel()
		}
	case wsDone:
		switch {
		case key.Matches(k, wkPowerOff) && w.poweredOff == "" && w.batch != nil:
			return w.powerOffAll()
		case key.Matches(k, wkPowerOff) && w.poweredOff == "":
			return w.powerOff()
		case key.Matches(k, keys.Continue) && w.batch != nil:
			return w.finishBatch()
		case key.Matches(k, keys.Continue):
			return w.finish()
		}
	case wsFailed:
		switch {
		case key.Matches(k, wkRetry):
			w.err, w.plan, w.receipt, w.samples = nil, nil, nil, nil
			w.batch, w.receipts, w.targets, w.marked = nil, nil, nil, nil
			w.state = wsImage
			return Retry()
		case key.Matches(k, keys.Continue) && w.receipts != nil:
			rec := media.BatchRecord{Targets: w.receipts}
			return w.sess.doneNow(DoneMsg{Outcome: runrec.OutcomeOf(w.err), Summary: "installer not written to every stick", Err: w.err, Details: rec})
		case key.Matches(k, keys.Continue):
			return w.sess.doneNow(DoneMsg{Outcome: runrec.OutcomeOf(w.err), Summary: "installer not written", Err: w.err})
		}
	}
	return nil
}

// build runs the profile's installer build as a task.
func (w *writeScreen) build() tea.Cmd {
	w.state, w.logs, w.err, w.buildProg = wsBuilding, nil, nil, nil
	inst, b := w.sess.Profile.Installer, w.sess.Hardware.Installer
	t, cmd := w.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		return b.Build(ctx, inst, sink)
	})
	w.task = t
	return tea.Batch(cmd, w.spin.Tick)
}

type disksMsg struct {
	disks   []media.Disk
	reasons [][]media.Reason
	err     error
}

type disksChangedMsg struct{ ch <-chan struct{} }

// toDisks shows the disk list and starts watching for hotplug.
func (w *writeScreen) toDisks() tea.Cmd {
	w.state = wsDisks
	w.sess.SetFact(step.FactInstaller, w.image)
	cmds := []tea.Cmd{w.listDisks()}
	if !w.watching {
		w.watching = true
		ctx, cancel := context.WithCancel(w.sess.ctx)
		w.watchCtx = cancel
		cmds = append(cmds, w.waitChanges(w.sess.Hardware.Disks.Changes(ctx)))
	}
	return tea.Batch(cmds...)
}

func (w *writeScreen) listDisks() tea.Cmd {
	edge, image := w.sess.Hardware.Disks, w.image
	return func() tea.Msg {
		im, _ := media.Inspect(image)
		ds, rs, err := media.ListDisks(context.Background(), edge, im, media.Constraints{})
		return disksMsg{disks: ds, reasons: rs, err: err}
	}
}

func (w *writeScreen) waitChanges(ch <-chan struct{}) tea.Cmd {
	ctx := w.sess.ctx
	return func() tea.Msg {
		select {
		case <-ch:
			return disksChangedMsg{ch: ch}
		case <-ctx.Done():
			return nil
		}
	}
}

// prepare checks the chosen disk and reads what is on it.
func (w *writeScreen) prepare(d media.Disk) tea.Cmd {
	w.state, w.err = wsPreparing, nil
	env := media.Env{Edge: w.sess.Hardware.Disks, Runner: w.sess.Hardware.UnprivilegedRunner()}
	req := media.Request{Image: w.image, Target: d.Path, Unmount: true}
	t, cmd := w.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		return image.PrepareWrite(ctx, env, req, image.BoardCheck{Profile: w.sess.Profile}, sink)
	})
	w.task = t
	return tea.Batch(cmd, w.spin.Tick)
}

func (w *writeScreen) execute() tea.Cmd {
	w.state, w.err, w.samples = wsWriting, nil, nil
	w.prog = media.Progress{}
	plan := w.plan
	rs := w.sess.Step()
	t, cmd := w.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		log, _ := rs.OpenLog("log") // without it the write goes on: Tee says so
		defer log.Close()
		return plan.Execute(ctx, log.Tee(sink))
	})
	w.task = t
	return tea.Batch(cmd, w.spin.Tick)
}

func (w *writeScreen) powerOff() tea.Cmd {
	edge, d := w.sess.Hardware.Disks, w.plan.Disk
	t, cmd := w.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		return media.PowerOff(ctx, edge, d, sink)
	})
	w.task = t
	return cmd
}

func (w *writeScreen) finish() tea.Cmd {
	if w.watchCtx != nil {
		w.watchCtx()
	}
	rc := w.receipt
	sum := fmt.Sprintf("%s written to %s, verify %s", rc.Image.Name, rc.Device.Path, rc.Verify.Result)
	return w.sess.doneNow(DoneMsg{Outcome: runrec.Success, Summary: sum, Details: rc})
}

func (w *writeScreen) onEvent(e step.Event) {
	switch e := e.(type) {
	case media.BuildProgress:
		w.buildProg = &e
	case media.TargetsProgress:
		w.targets = &e
	case media.StationProgress:
		w.stationProg = &e
	case media.Progress:
		if e.Target != "" {
			return // a bar of several: TargetsProgress or StationProgress has it
		}
		w.prog = e
	case media.RateSample:
		w.samples = append(w.samples, e)
	case media.Stage:
		w.stage = e.Text()
	case step.Log:
		w.logs = append(w.logs, safe.Text(e.Line)) // nix's output
		if len(w.logs) > 200 {
			w.logs = w.logs[1:]
		}
	case step.Warning:
		w.stage = safe.Text(e.Text())
	}
}

func (w *writeScreen) onDone(d TaskDoneMsg) tea.Cmd {
	switch w.state {
	case wsBuilding:
		if d.Err != nil {
			w.err, w.state = d.Err, wsFailed
			return nil
		}
		w.image = d.Result.(string)
		return w.toDisks()
	case wsPreparing:
		if d.Err != nil {
			w.err, w.state = d.Err, wsDisks
			return w.listDisks()
		}
		w.plan, w.batch = nil, nil
		switch r := d.Result.(type) {
		case *media.Plan:
			w.plan = r
		case *media.Batch:
			w.batch = r
		}
		w.state = wsConfirm
		if w.needsTypedName() {
			w.nameInput.SetValue("")
			w.nameInput.Placeholder = w.confirmation()
			return w.nameInput.Focus()
		}
	case wsWriting:
		if rcs, ok := d.Result.([]*media.Receipt); ok {
			w.receipts = rcs
			if d.Err != nil {
				w.err, w.state = d.Err, wsFailed
				if rcs != nil && w.sess.Step() != nil {
					_ = w.sess.Step().SetDetails(media.BatchRecord{Targets: rcs})
				}
				return nil
			}
			w.state = wsDone
			return nil
		}
		if rc, ok := d.Result.(*media.Receipt); ok && rc != nil {
			w.receipt = rc
		}
		if d.Err != nil {
			w.err, w.state = d.Err, wsFailed
			if w.receipt != nil && w.sess.Step() != nil {
				_ = w.sess.Step().SetDetails(w.receipt)
			}
			return nil
		}
		w.state = wsDone
	case wsStation:
		w.stationRes, _ = d.Result.(*media.StationResult)
		w.err, w.state = d.Err, wsStationDone
		if w.stationRes != nil && w.sess.Step() != nil {
			_ = w.sess.Step().SetDetails(w.stationRes)
		}
	case wsDone:
		if hows, ok := d.Result.(map[string]string); ok {
			w.batchPoweredOff(hows)
		} else if d.Err != nil {
			w.stage = d.Err.Error()
		} else if how, ok := d.Result.(string); ok {
			w.poweredOff = how
			w.receipt.PowerOff = how
		}
	}
	return nil
}

// confirmation is what is typed to confirm: the disk's name, or every
// marked disk's.
func (w *writeScreen) confirmation() string {
	if w.batch != nil {
		return w.batch.Confirmation()
	}
	return w.plan.Confirmation()
}

// pickCursor keeps the selected disk across a refresh (hotplug) and
// otherwise starts on the first disk that may be written.
func pickCursor(old []media.Disk, cur int, ds []media.Disk, rs [][]media.Reason) int {
	if cur < len(old) {
		for i, d := range ds {
			if d.Name == old[cur].Name {
				return i
			}
		}
	}
	for i := range ds {
		if len(media.Blocking(rs[i])) == 0 {
			return i
		}
	}
	return 0
}
