package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// Several sticks at once and the station, in the Write step: the disk
// list marks candidates with space (enter writes every marked one, the
// image decoded once), and t starts the station, which writes each stick
// plugged in from then on. Every decision is media's (Batch, Station).

var (
	wkMark    = key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "mark (several at once)"))
	wkStation = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "station"))
	wkStart   = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "start the station"))
	wkEnd     = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop the station"))
)

// toggleMark marks or unmarks the disk under the cursor; a disk that may
// not be written cannot be marked, and says why.
func (w *writeScreen) toggleMark() {
	if len(w.disks) == 0 {
		return
	}
	d := w.disks[w.cursor]
	if block := media.Blocking(w.reasons[w.cursor]); len(block) > 0 {
		w.err = fmt.Errorf("%s cannot be marked: %s", d.Path, block[0].What)
		return
	}
	w.err = nil
	if w.marked == nil {
		w.marked = map[string]bool{}
	}
	if w.marked[d.Name] {
		delete(w.marked, d.Name)
	} else {
		w.marked[d.Name] = true
	}
}

// markedTargets are the marked disks still in the list (a stick pulled
// meanwhile drops out), in the list's order.
func (w *writeScreen) markedTargets() []string {
	var out []string
	for _, d := range w.disks {
		if w.marked[d.Name] {
			out = append(out, d.Path)
		}
	}
	return out
}

// prepareBatch checks every marked disk (one refused refuses all) and
// reads what each holds.
func (w *writeScreen) prepareBatch(targets []string) tea.Cmd {
	w.state, w.err = wsPreparing, nil
	env := media.Env{Edge: w.sess.Hardware.Disks, Runner: w.sess.Hardware.UnprivilegedRunner()}
	req := media.Request{Image: w.image, Unmount: true}
	bc := image.BoardCheck{Profile: w.sess.Profile}
	t, cmd := w.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		return image.PrepareBatch(ctx, env, req, targets, bc, sink)
	})
	w.task = t
	return tea.Batch(cmd, w.spin.Tick)
}

// confirmBatchKey is the confirmation's keys for several disks: y, or
// every name typed when one of them needs it.
func (w *writeScreen) confirmBatchKey(k tea.KeyPressMsg) tea.Cmd {
	b := w.batch
	if k.String() == "esc" || (!b.NeedsTypedName() && k.String() == "n") {
		w.state, w.batch = wsDisks, nil
		w.nameInput.Blur()
		w.nameInput.SetValue("")
		return w.listDisks()
	}
	if b.NeedsTypedName() {
		if k.String() == "enter" {
			if b.Confirmed(w.nameInput.Value()) {
				return w.executeBatch()
			}
			w.err = fmt.Errorf("typed %q, not %q: nothing was written", w.nameInput.Value(), b.Confirmation())
			w.nameInput.SetValue("")
			return nil
		}
		var cmd tea.Cmd
		w.nameInput, cmd = w.nameInput.Update(k)
		return cmd
	}
	if key.Matches(k, wkErase) {
		return w.executeBatch()
	}
	return nil
}

func (w *writeScreen) executeBatch() tea.Cmd {
	w.state, w.err, w.targets, w.receipts = wsWriting, nil, nil, nil
	b := w.batch
	rs := w.sess.Step()
	t, cmd := w.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		log, _ := rs.OpenLog("log") // without it the write goes on: Tee says so
		defer log.Close()
		return b.Execute(ctx, log.Tee(sink))
	})
	w.task = t
	return tea.Batch(cmd, w.spin.Tick)
}

// powerOffAll powers off every verified USB stick and SD card of the
// batch, so the technician pulls them all.
func (w *writeScreen) powerOffAll() tea.Cmd {
	edge := w.sess.Hardware.Disks
	var ds []media.Disk
	for i, rc := range w.receipts {
		d := w.batch.Plans[i].Disk
		if rc.Result != "failed" && (d.Transport == media.USB || d.Transport == media.MMC) {
			ds = append(ds, d)
		}
	}
	t, cmd := w.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		hows := map[string]string{}
		for _, d := range ds {
			how, err := media.PowerOff(ctx, edge, d, sink)
			if err != nil {
				sink.Emit(step.Warning{Warning: err.Error(), Next: step.NextOf(err)})
				continue
			}
			hows[d.Name] = how
		}
		return hows, nil
	})
	w.task = t
	return cmd
}

// batchDone records the powering off in the receipts.
func (w *writeScreen) batchPoweredOff(hows map[string]string) {
	n := 0
	for i, rc := range w.receipts {
		if how := hows[w.batch.Plans[i].Disk.Name]; how != "" {
			rc.PowerOff = how
			n++
		}
	}
	w.poweredOff = fmt.Sprintf("%d powered off", n)
}

func (w *writeScreen) finishBatch() tea.Cmd {
	if w.watchCtx != nil {
		w.watchCtx()
	}
	names := make([]string, len(w.receipts))
	for i, rc := range w.receipts {
		names[i] = rc.Label()
	}
	sum := fmt.Sprintf("%s written to %d sticks (%s)", w.batch.Plans[0].Image.Name, len(w.receipts), strings.Join(names, ", "))
	rec := media.BatchRecord{Targets: w.receipts}
	return w.sess.doneNow(DoneMsg{Outcome: runrec.Success, Summary: sum, Details: rec})
}

// startStation runs the station until x: the image checked against the
// board once, then every stick plugged in written as it arrives.
func (w *writeScreen) startStation() tea.Cmd {
	w.state, w.err, w.stationProg, w.stationRes = wsStation, nil, nil, nil
	env := media.Env{Edge: w.sess.Hardware.Disks, Runner: w.sess.Hardware.UnprivilegedRunner()}
	// Starting the station is the consent to unmount what a desktop
	// mounts on each arriving stick (the confirmation says so).
	req := media.Request{Image: w.image, Unmount: true}
	bc := image.BoardCheck{Profile: w.sess.Profile}
	rs := w.sess.Step()
	t, cmd := w.sess.Start(func(ctx context.Context, sink step.Sink) (any, error) {
		log, _ := rs.OpenLog("log")
		defer log.Close()
		sink = log.Tee(sink)
		if _, err := image.CheckWrite(ctx, env, req, bc, sink); err != nil {
			return nil, err
		}
		st := media.Station{Env: env, Req: req, PowerOff: true}
		return st.Run(ctx, sink)
	})
	w.task = t
	return tea.Batch(cmd, w.spin.Tick)
}

func (w *writeScreen) stationKey(k tea.KeyPressMsg) tea.Cmd {
	switch w.state {
	case wsStationConfirm:
		switch {
		case key.Matches(k, wkStart):
			return w.startStation()
		case k.String() == "esc" || k.String() == "n":
			w.state = wsDisks
			return w.listDisks()
		}
	case wsStation:
		if key.Matches(k, wkEnd) && w.task != nil {
			w.task.Cancel()
		}
	case wsStationDone:
		if key.Matches(k, keys.Continue) {
			return w.finishStation()
		}
	}
	return nil
}

func (w *writeScreen) finishStation() tea.Cmd {
	if w.watchCtx != nil {
		w.watchCtx()
	}
	res := w.stationRes
	if res == nil {
		return w.sess.doneNow(DoneMsg{Outcome: runrec.OutcomeOf(w.err), Summary: "station not started", Err: w.err})
	}
	sum := fmt.Sprintf("station: %d written, %d failed", res.Written, res.Failed)
	outcome := runrec.Success
	if w.err != nil {
		outcome = runrec.OutcomeOf(w.err)
	}
	return w.sess.doneNow(DoneMsg{Outcome: outcome, Summary: sum, Err: w.err, Details: res})
}
