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

// wait bounds a wait for what a screen shows next: generous, so a busy
// machine is slow, not failing.
const wait = 60 * time.Second

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
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	t.Cleanup(func() { _ = tm.Quit(); m.Close() })
	return tm, testkit.NewScreen(tm.Output(), w, h), m
}

func press(tm *teatest.TestModel, codes ...rune) {
	for _, c := range codes {
		tm.Send(tea.KeyPressMsg{Code: c})
	}
}

func TestPickerAtBothSizes(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		_, scr, _ := startWizard(t, size[0], size[1], Options{})
		want := []string{"Which board is on the bench?", "▸ Profile", "orin-nano-devkit", "q quit"}
		if size[0] == 200 {
			want = append(want, "Jetson Xavier NX production eMMC module on the Xavier NX Developer Kit carrier")
		}
		text := scr.WaitFor(t, wait, want...)
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if w := len([]rune(l)); w > size[0] {
				t.Errorf("%dx%d: line %d is %d columns wide: %q", size[0], size[1], i, w, l)
			}
		}
	}
}

func TestChooseProfileBuildsTheStepList(t *testing.T) {
	dir := t.TempDir()
	tm, scr, _ := startWizard(t, 80, 24, Options{StateDir: dir})
	scr.WaitFor(t, wait, "orin-agx-devkit")
	press(tm, tea.KeyEnter) // first entry: orin-agx-devkit
	text := scr.WaitFor(t, wait, "✓ Profile", "▸ Check host", "Recover", "Flash", "Watch", "Write", "Push", "Summary", "Jetson AGX Orin")
	if !strings.Contains(text, "11 checks:") {
		scr.WaitFor(t, wait, "11 checks:")
	}
	if got := loadRemembered(dir).LastProfile; got != "orin-agx-devkit" {
		t.Errorf("remembered %q", got)
	}
}

func TestFilterPicksAPiWithoutFlashSteps(t *testing.T) {
	tm, scr, _ := startWizard(t, 80, 24, Options{})
	scr.WaitFor(t, wait, "orin-agx-devkit")
	tm.Type("/rpi4q") // the q goes to the filter, not to quit
	scr.WaitFor(t, wait, "rpi4q")
	press(tm, tea.KeyBackspace, tea.KeyEnter, tea.KeyEnter)
	text := scr.WaitFor(t, wait, "Raspberry Pi 4", "▸ Check host", "Write", "Watch", "Push")
	if strings.Contains(text, "Recover") || strings.Contains(text, "Flash") {
		t.Errorf("a Pi has no recover or flash step:\n%s", text)
	}
}

func TestLastProfileIsPreselected(t *testing.T) {
	dir := t.TempDir()
	if err := saveRemembered(dir, remembered{LastProfile: "xavier-nx-devkit"}); err != nil {
		t.Fatal(err)
	}
	tm, scr, _ := startWizard(t, 80, 24, Options{StateDir: dir})
	scr.WaitFor(t, wait, "> xavier-nx-devkit")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "Jetson Xavier NX Developer Kit")
}

func TestResizeRelaysOut(t *testing.T) {
	tm, scr, _ := startWizard(t, 60, 20, Options{Profile: "orin-nano-devkit"})
	// At 60 columns the run id does not fit beside the title and long
	// details are cut with an ellipsis instead of wrapping.
	text := scr.WaitFor(t, wait, "▸ Check host", "/etc/udev/rule…", "· ↓ more")
	if header := strings.SplitN(text, "\n", 2)[0]; strings.Contains(header, "run 20") {
		t.Errorf("run id squeezed into a 60-column header: %q", header)
	}
	scr.Resize(200, 60)
	tm.Send(tea.WindowSizeMsg{Width: 200, Height: 60})
	text = scr.WaitFor(t, wait, "run 20", "/etc/udev/rules.d/70-jetup.rules")
	for i, l := range strings.Split(text, "\n") {
		if len([]rune(l)) > 200 {
			t.Errorf("line %d wider than the window: %q", i, l)
		}
	}
}

func TestNotBuiltStepSaysSoAndIsRecordedSkipped(t *testing.T) {
	dir := t.TempDir()
	tm, scr, m := startWizard(t, 80, 24, Options{StateDir: dir, Profile: "rpi4"})
	scr.WaitFor(t, wait, "11 checks:")
	press(tm, tea.KeyEnter)
	if _, built := screens[step.Write]; built {
		t.Skip("the write step has its screen now")
	}
	scr.WaitFor(t, wait, "not built yet", "enter skip")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "– Write")
	rec := m.sess.Run.Snapshot()
	if len(rec.Steps) < 2 || rec.Steps[1].Step != step.Write || rec.Steps[1].Outcome != runrec.Skipped {
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
	testkit.NeedCommands(t, "sleep")
	pids := make(chan int, 1)
	old, had := screens[step.Detect]
	screens[step.Detect] = func(s *Session, _ *Styles) Screen { return &blockingScreen{sess: s, pid: pids} }
	defer func() {
		if had {
			screens[step.Detect] = old
		} else {
			delete(screens, step.Detect)
		}
	}()

	dir := t.TempDir()
	tm, scr, m := startWizard(t, 80, 24, Options{StateDir: dir, Profile: "orin-nano-devkit"})
	scr.WaitFor(t, wait, "11 checks:")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "busy flashing")
	pid := <-pids
	text := scr.WaitFor(t, wait, "q quit")
	if strings.Contains(text, "esc back") || strings.Contains(text, "s skip") {
		t.Errorf("back and skip offered while the step runs:\n%s", text)
	}

	tm.Type("q")
	scr.WaitFor(t, wait, "Quit and stop it?")
	tm.Type("n")
	scr.WaitFor(t, wait, "busy flashing", "q quit")
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("saying no to quit must not stop the work")
	}

	tm.Type("q")
	scr.WaitFor(t, wait, "Quit and stop it?")
	tm.Type("y")
	tm.WaitFinished(t, teatest.WithFinalTimeout(proc.Grace+5*time.Second))
	if proc.GroupAlive(pid) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		t.Fatal("the child process outlived the wizard")
	}
	rec, err := runrec.Load(m.sess.Run.Dir())
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
	dir := t.TempDir()
	tm, scr, _ := startWizard(t, 80, 24, Options{StateDir: dir})
	scr.WaitFor(t, wait, "orin-agx-devkit")
	press(tm, tea.KeyEnter, tea.KeyEnter, tea.KeyEnter)
	for i := 0; i < 20; i++ {
		tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	}
	scr.WaitFor(t, wait, "11 checks:")
	runs, _, err := runrec.List(dir)
	if err != nil || len(runs) != 1 {
		t.Fatalf("%d run records (%v), want 1", len(runs), err)
	}
}

func TestSkipAndGoTo(t *testing.T) {
	// A flash step that waits, so that GoTo leaves an open attempt (the
	// real one starts flashing at once).
	old := screens[step.Flash]
	screens[step.Flash] = func(_ *Session, st *Styles) Screen { return newNotBuilt(step.Flash, st) }
	defer func() { screens[step.Flash] = old }()
	dir := t.TempDir()
	tm, scr, m := startWizard(t, 80, 24, Options{StateDir: dir, Profile: "orin-nano-devkit"})
	scr.WaitFor(t, wait, "11 checks:")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "▸ Recover", "s skip step")
	tm.Type("s")
	scr.WaitFor(t, wait, "– Recover", "▸ Flash")
	tm.Send(GoToMsg{Step: step.Detect, Fresh: true})
	scr.WaitFor(t, wait, "▸ Recover")
	rec := m.sess.Run.Snapshot()
	var got []string
	for _, s := range rec.Steps {
		got = append(got, string(s.Step)+":"+string(s.Outcome)+":"+s.Summary)
	}
	want := []string{
		"doctor:success:11 checks: 0 to fix, 2 warnings",
		"detect:skipped:skipped by the person",
		"flash:skipped:left for Recover",
		"detect:running:",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The bench loop: after the summary, n starts the next board of the same
// profile with its own run record; the host check is carried over.
func TestNextBoardStartsANewRun(t *testing.T) {
	dir := t.TempDir()
	tm, scr, _ := startWizard(t, 80, 24, Options{StateDir: dir, Profile: "rpi4"})
	scr.WaitFor(t, wait, "11 checks:")
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
	scr.WaitFor(t, wait, "board 2 · run ", "▸ Write", "– Check host")

	runs, _, err := runrec.List(dir)
	if err != nil || len(runs) != 2 {
		t.Fatalf("%d runs (%v), want 2", len(runs), err)
	}
	first, second := runs[0], runs[1]
	if first.Outcome != runrec.Success || first.Ended == nil {
		t.Errorf("first board's run not closed: %s", first.Outcome)
	}
	if second.Profile != "rpi4" || len(second.Steps) < 2 {
		t.Fatalf("second run %+v", second)
	}
	doc := second.Steps[0]
	if doc.Step != step.Doctor || doc.Outcome != runrec.Skipped || !strings.Contains(doc.Summary, first.ID) {
		t.Errorf("host check not carried over: %+v", doc)
	}
	if second.Steps[1].Step != step.Write || second.Steps[1].Outcome != runrec.Running {
		t.Errorf("second board does not start at its first step: %+v", second.Steps[1])
	}
}
