package tui

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// wait bounds a wait for what a real program's screen shows next: the
// driver's bound, generous, so a busy machine is slow, not failing.
const wait = waitBound

func startWizard(t *testing.T, w, h int, o Options) (*teatest.TestModel, *testkit.Screen, *Model) {
	t.Helper()
	if o.Profiles == nil {
		set, errs := profiles.Load(assets.Profiles(), "")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		o.Profiles = set
	}
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	if o.Hardware.Host == nil {
		o.Hardware = sim.Hardware()
	}
	m := New(o)
	// 20 frames a second rather than 60: the walks wait for what stays on
	// the screen, and every frame costs under -race.
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii), tea.WithFPS(20)))
	t.Cleanup(func() { _ = tm.Quit(); m.Close() })
	return tm, testkit.NewScreen(tm.Output(), w, h), m
}

func press(tm *teatest.TestModel, codes ...rune) {
	for _, c := range codes {
		tm.Send(tea.KeyPressMsg{Code: c})
	}
}

func TestPickerAtBothSizes(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		d := drive(t, size[0], size[1], Options{})
		want := []string{"Which board is on the bench?", "▸ Profile", "orin-nano-devkit", "q quit"}
		if size[0] == 200 {
			want = append(want, "Jetson Xavier NX production eMMC module on the Xavier NX Developer Kit carrier")
		}
		checkWidth(t, d.waitView(want...), size[0])
	}
}

// The picker's walk through a real Bubble Tea program: the choice builds
// the step list and starts the host check.
func TestChooseProfileBuildsTheStepList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tm, scr, _ := startWizard(t, 80, 24, Options{StateDir: dir})
	scr.WaitFor(t, wait, "orin-agx-devkit")
	press(tm, tea.KeyEnter) // first entry: orin-agx-devkit
	text := scr.WaitFor(t, wait, "✓ Profile", "▸ Check host", "Recover", "Flash", "Watch", "Write", "Push", "Summary", "Jetson AGX Orin")
	if !strings.Contains(text, "12 checks:") {
		scr.WaitFor(t, wait, "12 checks:")
	}
	if got := loadRemembered(dir).LastProfile; got != "orin-agx-devkit" {
		t.Errorf("remembered %q", got)
	}
}

func TestFilterPicksAPiWithoutFlashSteps(t *testing.T) {
	t.Parallel()
	d := drive(t, 80, 24, Options{})
	d.waitView("orin-agx-devkit")
	d.typ("/rpi4q") // the q goes to the filter, not to quit
	d.waitView("rpi4q")
	if d.quit || d.m.confirmQuit {
		t.Fatal("q in the filter quit the wizard")
	}
	d.key(tea.KeyBackspace, tea.KeyEnter, tea.KeyEnter)
	text := d.waitView("Raspberry Pi 4", "▸ Check host", "Write", "Watch", "Push")
	if strings.Contains(text, "Recover") || strings.Contains(text, "Flash") {
		t.Errorf("a Pi has no recover or flash step:\n%s", text)
	}
}

func TestLastProfileIsPreselected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := saveRemembered(dir, remembered{LastProfile: "xavier-nx-devkit"}); err != nil {
		t.Fatal(err)
	}
	d := drive(t, 80, 24, Options{StateDir: dir})
	d.waitView("> xavier-nx-devkit")
	d.key(tea.KeyEnter)
	d.waitView("Jetson Xavier NX Developer Kit")
}

func TestResizeRelaysOut(t *testing.T) {
	t.Parallel()
	d := driveStep(t, 60, 20, Options{Profile: "orin-nano-devkit"}, step.Doctor)
	// At 60 columns the run id does not fit beside the title and long
	// details are cut with an ellipsis instead of wrapping.
	text := d.waitView("▸ Check host", "/etc/udev/rule…", "· ↓ more")
	if header := strings.SplitN(text, "\n", 2)[0]; strings.Contains(header, "run 20") {
		t.Errorf("run id squeezed into a 60-column header: %q", header)
	}
	d.send(tea.WindowSizeMsg{Width: 200, Height: 60})
	text = d.waitView("run 20", "/etc/udev/rules.d/70-jetup.rules")
	checkWidth(t, text, 200)
}

// A step a profile names without a screen of its own says so, and enter
// records it skipped.
func TestNotBuiltStepSaysSoAndIsRecordedSkipped(t *testing.T) {
	t.Parallel()
	d := newDriver(t, Options{Profile: "rpi4"})
	delete(d.m.screens, step.Write) // as if the write screen were not built
	d.start(80, 24)
	d.waitView("12 checks:")
	d.key(tea.KeyEnter)
	text := d.waitView("▸ Write", "The write step is not built yet", "enter skip")
	checkWidth(t, text, 80)
	d.key(tea.KeyEnter)
	d.waitView("– Write", "▸ Watch")
	rec := d.m.sess.Run.Snapshot()
	if len(rec.Steps) < 2 || rec.Steps[1].Step != step.Write || rec.Steps[1].Outcome != runrec.Skipped ||
		rec.Steps[1].Summary != "step not built yet in this version of jetup" {
		t.Errorf("run record steps: %+v", rec.Steps)
	}
}

// blockingScreen runs a real child process until cancelled: the quit test's
// stand-in for a flash in progress.
type blockingScreen struct {
	sess *Session
	pid  chan int
}

func (b *blockingScreen) Init() tea.Cmd {
	_, cmd := b.sess.Start(func(ctx context.Context, _ step.Sink) (any, error) {
		c := proc.Host{}.Command(ctx, "sleep", "300")
		if err := c.Start(); err != nil {
			return nil, err
		}
		b.pid <- c.Process.Pid
		return nil, c.Wait()
	})
	return cmd
}
func (b *blockingScreen) Update(tea.Msg) (Screen, tea.Cmd) { return b, nil }
func (b *blockingScreen) View() string                     { return "busy flashing" }
func (b *blockingScreen) SetSize(int, int)                 {}
func (b *blockingScreen) Keys() []key.Binding              { return nil }
func (b *blockingScreen) CapturesKeys() bool               { return false }

func TestQuitWhileBusyAsksThenEndsChildren(t *testing.T) {
	t.Parallel()
	testkit.NeedCommands(t, "sleep")
	pids := make(chan int, 1)
	d := newDriver(t, Options{Profile: "orin-nano-devkit"})
	d.m.screens[step.Detect] = func(s *Session, _ *Styles) Screen { return &blockingScreen{sess: s, pid: pids} }
	d.start(80, 24)
	d.waitView("12 checks:")
	d.key(tea.KeyEnter)
	d.waitView("busy flashing")
	var pid int
	select {
	case pid = <-pids:
	case <-time.After(waitBound):
		t.Fatal("the busy step never started its child process")
	}
	text := d.waitView("q quit")
	if strings.Contains(text, "esc back") || strings.Contains(text, "s skip") {
		t.Errorf("back and skip offered while the step runs:\n%s", text)
	}

	d.typ("q")
	d.waitView("Quit and stop it?")
	d.typ("n")
	text = d.waitView("busy flashing", "q quit")
	if strings.Contains(text, "Quit and stop it?") || d.quit {
		t.Fatalf("n did not keep the wizard:\n%s", text)
	}
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("saying no to quit must not stop the work")
	}

	d.typ("q")
	d.waitView("Quit and stop it?")
	d.typ("y")
	d.until("the wizard to quit", func() bool { return d.quit })
	if proc.GroupAlive(pid) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		t.Fatal("the child process outlived the wizard")
	}
	rec, err := runrec.Load(d.m.sess.Run.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != runrec.Cancelled || rec.Ended == nil {
		t.Errorf("run outcome %s ended %v", rec.Outcome, rec.Ended)
	}
	last := rec.Steps[len(rec.Steps)-1]
	if last.Step != step.Detect || last.Outcome != runrec.Interrupted {
		t.Errorf("the running step must be recorded as interrupted: %+v", last)
	}
}

// huh keeps reporting completion after the choice: a burst of messages
// right after enter must still give one run, not two.
func TestOneChoiceOneRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := drive(t, 80, 24, Options{StateDir: dir})
	d.waitView("orin-agx-devkit")
	d.key(tea.KeyEnter, tea.KeyEnter, tea.KeyEnter)
	for i := 0; i < 20; i++ {
		d.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	}
	d.waitView("12 checks:")
	runs, _, err := runrec.List(dir)
	if err != nil || len(runs) != 1 {
		t.Fatalf("%d run records (%v), want 1", len(runs), err)
	}
}

func TestSkipAndGoTo(t *testing.T) {
	t.Parallel()
	// A flash step that waits, so that GoTo leaves an open attempt (the
	// real one starts flashing at once).
	d := newDriver(t, Options{Profile: "orin-nano-devkit"})
	d.m.screens[step.Flash] = func(_ *Session, st *Styles) Screen { return newNotBuilt(step.Flash, st) }
	d.start(80, 24)
	d.waitView("12 checks:")
	d.key(tea.KeyEnter)
	d.waitView("▸ Recover", "s skip step")
	d.typ("s")
	d.waitView("– Recover", "▸ Flash")
	d.send(GoToMsg{Step: step.Detect, Fresh: true})
	d.waitView("▸ Recover")
	rec := d.m.sess.Run.Snapshot()
	var got []string
	for _, s := range rec.Steps {
		got = append(got, string(s.Step)+":"+string(s.Outcome)+":"+s.Summary)
	}
	want := []string{
		"doctor:success:12 checks: 0 to fix, 2 warnings",
		"detect:skipped:skipped by the person",
		"flash:skipped:left for Recover",
		"detect:running:",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The bench loop, walked through a real Bubble Tea program from the host
// check to the summary: after it, n starts the next board of the same
// profile with its own run record; the host check is carried over, the
// one question is the label, and the steps the person skipped for the
// first board are skipped for the second, each saying so.
func TestNextBoardStartsANewRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tm, scr, _ := startWizard(t, 80, 24, Options{StateDir: dir, Profile: "rpi4"})
	scr.WaitFor(t, wait, "12 checks:")
	press(tm, tea.KeyEnter)
	for _, title := range []string{"Write", "Watch", "Push", "Verify"} {
		scr.WaitFor(t, wait, "▸ "+title)
		tm.Type("s")
	}
	text := scr.WaitFor(t, wait, "▸ Summary", "no board facts recorded", "n next board")
	if strings.Contains(text, "board 2") {
		t.Fatalf("first board already numbered 2:\n%s", text)
	}
	tm.Type("n")
	scr.WaitFor(t, wait, "board 2", "▸ Label", "– Check host", "Same choices as board 1", "skipping")
	tm.Type("B-02")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "▸ Summary", "Summary of board 2", "board 2 · run ")

	runs, _, err := runrec.List(dir)
	if err != nil || len(runs) != 2 {
		t.Fatalf("%d runs (%v), want 2", len(runs), err)
	}
	first, second := runs[0], runs[1]
	if first.Outcome != runrec.Success || first.Ended == nil {
		t.Errorf("first board's run not closed: %s", first.Outcome)
	}
	if second.Profile != "rpi4" || len(second.Steps) != 5 {
		t.Fatalf("second run %+v", second)
	}
	doc := second.Steps[0]
	if doc.Step != step.Doctor || doc.Outcome != runrec.Skipped || !strings.Contains(doc.Summary, first.ID) {
		t.Errorf("host check not carried over: %+v", doc)
	}
	for _, s := range second.Steps[1:] {
		if s.Outcome != runrec.Skipped || s.Summary != "skipped, as for board 1 (run "+first.ID+")" {
			t.Errorf("second board's %s: %s %q", s.Step, s.Outcome, s.Summary)
		}
	}
	// The bench session ties the two runs together, in order, with the
	// second board's label.
	b, _, err := runrec.OpenBench(dir, runrec.BenchOptions{})
	if s := b.Session(); err != nil || len(s.Boards) != 2 || s.Boards[0].Run != first.ID || s.Boards[1].Run != second.ID || s.Boards[1].Label != "B-02" {
		t.Errorf("bench session %+v %v", s, err)
	}
	if second.Bench == nil || second.Bench.Board != 2 || second.Bench.Label != "B-02" {
		t.Errorf("second run's bench place %+v", second.Bench)
	}
}
