package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// formDriver gives a screen key presses and runs the commands they yield
// as Bubble Tea would (huh moves between fields through them), until the
// screen is in the state awaited.
type formDriver struct {
	t    *testing.T
	sc   Screen
	msgs chan tea.Msg
}

func (d *formDriver) run(cmd tea.Cmd) {
	if cmd != nil {
		go func() { d.msgs <- cmd() }()
	}
}

func (d *formDriver) press(k tea.KeyPressMsg) {
	var cmd tea.Cmd
	d.sc, cmd = d.sc.Update(k)
	d.run(cmd)
}

func (d *formDriver) typ(s string) {
	for _, r := range s {
		d.press(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// until feeds the commands' messages to the screen until ok holds.
func (d *formDriver) until(what string, ok func(*verifyScreen) bool) {
	d.t.Helper()
	deadline := time.After(wait)
	for !ok(d.sc.(*verifyScreen)) {
		select {
		case msg := <-d.msgs:
			if b, isBatch := msg.(tea.BatchMsg); isBatch {
				for _, c := range b {
					d.run(c)
				}
				continue
			}
			if msg == nil {
				continue
			}
			var cmd tea.Cmd
			d.sc, cmd = d.sc.Update(msg)
			d.run(cmd)
		case <-deadline:
			d.t.Fatalf("waited %v for %s; the screen:\n%s", wait, what, ansi.Strip(d.sc.View()))
		}
	}
}

func focused(key string) func(*verifyScreen) bool {
	return func(v *verifyScreen) bool {
		return v.form != nil && v.form.form.GetFocusedField().GetKey() == key
	}
}

func showing(s string) func(*verifyScreen) bool {
	return func(v *verifyScreen) bool { return strings.Contains(ansi.Strip(v.View()), s) }
}

// o asks for what `jetup verify` takes as --container-image, --cuda-sample
// and --workload; a value verify would refuse is named in the form and
// keeps it on that field; the run that follows carries what was typed, and
// so do its retries.
func TestVerifyScreenOptionsFormRunsTheChecksWithWhatWasTyped(t *testing.T) {
	t.Parallel()
	s, _ := verifySession(t, "", true)
	sc := newVerifyScreen(s, DefaultStyles())
	sc.SetSize(100, 30)
	if cmd := sc.Init(); cmd != nil {
		t.Fatal("the checks started with no push in this run")
	}
	d := &formDriver{t: t, sc: sc, msgs: make(chan tea.Msg, 64)}
	d.press(tea.KeyPressMsg{Code: 'o', Text: "o"})
	d.until("the form on its first field", focused("image"))
	if !d.sc.CapturesKeys() {
		t.Fatal("the form does not take the keys: q would quit the wizard")
	}
	for _, want := range []string{"Verify: the checks' options", "Container image", "CUDA sample", "Pod manifest for k3s", "the profile's (cuda-test)"} {
		if !showing(want)(d.sc.(*verifyScreen)) {
			t.Errorf("the form lacks %q:\n%s", want, ansi.Strip(d.sc.View()))
		}
	}

	// Not an image reference: named, and the form stays on the field.
	d.typ("l4t base")
	d.press(tea.KeyPressMsg{Code: tea.KeyEnter})
	d.until("the bad image to be named", showing("is not an image reference"))
	if !focused("image")(d.sc.(*verifyScreen)) {
		t.Fatal("the form left a field verify would refuse")
	}
	for range len("l4t base") {
		d.press(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	d.typ("nvcr.io/nvidia/l4t-base:r36.2.0")
	d.press(tea.KeyPressMsg{Code: tea.KeyEnter})
	d.until("the CUDA sample field", focused("cuda"))
	d.typ("/run/current-system/sw/bin/deviceQuery")
	d.press(tea.KeyPressMsg{Code: tea.KeyEnter})
	d.until("the manifest field", focused("workload"))

	dir := t.TempDir()
	pod := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(pod, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: gpu-test}\nspec:\n  containers: [{name: c, image: x}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.typ(filepath.Join(dir, "missing.yaml"))
	d.press(tea.KeyPressMsg{Code: tea.KeyEnter})
	d.until("the missing manifest to be named", showing("missing.yaml:"))
	for range len("missing.yaml") {
		d.press(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	d.typ("pod.yaml")
	d.press(tea.KeyPressMsg{Code: tea.KeyEnter})
	d.until("the checks to start", func(v *verifyScreen) bool { return v.form == nil && v.task != nil })

	v := d.sc.(*verifyScreen)
	defer v.task.Cancel()
	// The board ran what was typed: the CUDA sample named, the image used.
	d.until("the checks to end", func(v *verifyScreen) bool { return v.run != nil && v.run.done })
	var details []string
	for _, c := range v.run.result.Checks {
		details = append(details, c.Detail)
	}
	all := strings.Join(details, "\n")
	for _, want := range []string{"/run/current-system/sw/bin/deviceQuery passed", "nvidia-smi in nvcr.io/nvidia/l4t-base:r36.2.0", "workload pod gpu-test"} {
		if !strings.Contains(all, want) {
			t.Errorf("the checks' verdicts lack %q:\n%s", want, all)
		}
	}
	if v.opts.ContainerImage != "nvcr.io/nvidia/l4t-base:r36.2.0" || v.opts.CUDASample != "/run/current-system/sw/bin/deviceQuery" || v.opts.Workload != pod {
		t.Errorf("the run's options: image %q cuda %q workload %q", v.opts.ContainerImage, v.opts.CUDASample, v.opts.Workload)
	}
	if o := v.options(); o.ContainerImage != v.opts.ContainerImage || o.Workload != pod || o.CUDASample != v.opts.CUDASample {
		t.Errorf("a retry would lose them: %+v", o)
	}
}

// esc leaves the form with nothing changed and nothing run.
func TestVerifyScreenOptionsFormEscChangesNothing(t *testing.T) {
	t.Parallel()
	s, _ := verifySession(t, "", true)
	sc := newVerifyScreen(s, DefaultStyles())
	sc.SetSize(80, 24)
	d := &formDriver{t: t, sc: sc, msgs: make(chan tea.Msg, 64)}
	d.press(tea.KeyPressMsg{Code: 'o', Text: "o"})
	d.until("the form on its first field", focused("image"))
	d.typ("nvcr.io/x:1")
	d.press(tea.KeyPressMsg{Code: tea.KeyEscape})
	v := d.sc.(*verifyScreen)
	if v.form != nil || v.task != nil || v.extras != (verifyExtras{}) {
		t.Errorf("esc: form %v task %v extras %+v", v.form != nil, v.task != nil, v.extras)
	}
	if !showing("enter checks")(v) {
		t.Errorf("esc did not lead back:\n%s", ansi.Strip(v.View()))
	}
}
