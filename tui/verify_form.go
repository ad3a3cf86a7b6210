package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/jetup/jetup/verify"
)

// verifyExtras are what the checks take beyond the profile, the wizard's
// side of `jetup verify`'s --container-image, --cuda-sample and
// --workload. They stay for the retries of this screen.
type verifyExtras struct {
	image, cuda, workload string
}

func (x verifyExtras) apply(o *verify.Options) {
	o.ContainerImage, o.CUDASample, o.Workload = x.image, x.cuda, x.workload
}

var (
	verifyOptionsKey = key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "checks' options"))
	verifyFormKeys   = []key.Binding{
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next / verify")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back, nothing changed")),
	}
)

// verifyForm asks for the extras; the values are checked as verify.Run
// checks them, so a bad one is named in the form, not after a run.
type verifyForm struct {
	form *huh.Form
	x    verifyExtras
}

func newVerifyForm(x verifyExtras, profileCUDA string, w int) *verifyForm {
	f := &verifyForm{x: x}
	cudaHint := "a command or store path run on the board"
	if profileCUDA != "" {
		cudaHint += "; empty: the profile's (" + truncate(profileCUDA, 40) + ")"
	}
	f.form = huh.NewForm(huh.NewGroup(
		huh.NewInput().Key("image").Title("Container image").
			Description("runs nvidia-smi in it through CDI (the container-gpu check); empty: the check only looks for the runtime").
			Placeholder("nvcr.io/nvidia/l4t-base:r36.2.0").Value(&f.x.image).
			Validate(func(s string) error { return verify.CheckImage(strings.TrimSpace(s)) }),
		huh.NewInput().Key("cuda").Title("CUDA sample").Description(cudaHint).Value(&f.x.cuda).
			Validate(func(s string) error { return verify.CheckCUDASample(s) }),
		huh.NewInput().Key("workload").Title("Pod manifest for k3s").
			Description("a file on this machine: one Pod, run on the board's node (the k3s-gpu check)").
			Value(&f.x.workload).
			Validate(func(s string) error { return verify.CheckWorkload(strings.TrimSpace(s)) }),
	)).WithShowHelp(false).WithTheme(huh.ThemeFunc(huh.ThemeCharm)).WithWidth(max(w, 20))
	return f
}

// openForm shows the form over the checks.
func (v *verifyScreen) openForm() tea.Cmd {
	profileCUDA := ""
	if p := v.sess.Profile; p != nil && p.Verify != nil {
		profileCUDA = p.Verify.CUDASample
	}
	v.form = newVerifyForm(v.extras, profileCUDA, v.w)
	return v.form.form.Init()
}

// formUpdate gives msg to the open form: esc leaves it with nothing
// changed; once every field is done the checks run with what it holds.
func (v *verifyScreen) formUpdate(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "esc" {
		v.form = nil
		return nil
	}
	m, cmd := v.form.form.Update(msg)
	if f, ok := m.(*huh.Form); ok {
		v.form.form = f
	}
	switch v.form.form.State {
	case huh.StateCompleted:
		x := v.form.x
		x.image, x.workload = strings.TrimSpace(x.image), strings.TrimSpace(x.workload)
		v.extras, v.form = x, nil
		v.retried = v.started
		return v.start(v.options())
	case huh.StateAborted:
		v.form = nil
		return nil
	}
	return cmd
}

func (v *verifyScreen) formView() string {
	return v.st.Title.Render("Verify: the checks' options") + "\n\n" + v.form.form.View() + "\n"
}
