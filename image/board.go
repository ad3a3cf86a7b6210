package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Finding is what the board check says about an image: a warning with its
// next step, or (Refuse) a reason the board cannot boot it.
type Finding struct {
	Cause  string `json:"cause"`
	What   string `json:"what"`
	Next   string `json:"next"`
	Refuse bool   `json:"refuse,omitempty"`
}

// CheckBoard weighs an inspected image against a profile's image rules.
func CheckBoard(r *Report, p *profiles.Profile) []Finding {
	if r == nil || p == nil || p.Image == nil || r.Kind != KindDisk {
		return nil
	}
	rules := p.Image
	var out []Finding
	add := func(refuse bool, cause, next, format string, a ...any) {
		out = append(out, Finding{Cause: cause, What: fmt.Sprintf(format, a...), Next: next, Refuse: refuse})
	}
	if rules.Table == "mbr" && r.Table == "gpt" && !r.HybridMBR {
		add(true, "board-needs-mbr", "use an image with an MBR, or give it a hybrid MBR (gdisk: r, then h) that lists the firmware partition",
			"the %s's boot ROM reads only an MBR and this image has a pure GPT: it will not boot", p.Title)
	}
	if len(rules.BootAny) > 0 {
		found := false
		for _, k := range rules.BootAny {
			found = found || r.Has(k)
		}
		if !found {
			add(true, "board-no-firmware", "use an image built for this board (nixpkgs' sd-image for the Pi, or a repart image with the RPi UEFI firmware on its ESP)",
				"the %s boots from %s, and this image carries none of them", p.Title, strings.Join(rules.BootAny, " or "))
		}
	}
	for _, b := range r.Boot {
		switch {
		case b.Kind == "pi-firmware" && rules.PiModel != "" && !contains(b.Models, rules.PiModel):
			add(false, "board-pi-model", "check that the image is for this board; the firmware files it needs are listed in the Raspberry Pi documentation (config.txt, boot folder)",
				"the Pi firmware on partition %d boots %s, not a %s", b.Partition, strings.Join(b.Models, ", "), rules.PiModel)
		case b.Kind == "rpi-uefi" && !strings.HasPrefix(b.Detail, "config.txt armstub="):
			add(false, "board-uefi-armstub", "add armstub=RPI_EFI.fd to config.txt on the firmware partition", "%s", b.Detail)
		case (b.Kind == "efi-removable" || b.Kind == "uki") && rules.Arch != "" && b.Arch != "" && b.Arch != rules.Arch:
			add(false, "board-arch", "use the image built for "+rules.Arch,
				"%s is an %s EFI binary; the %s is %s", b.Path, b.Arch, p.Title, rules.Arch)
		}
	}
	if rules.Kernel != "" && r.FS == "iso9660" {
		var kernel string
		for _, b := range r.Boot {
			if b.Kind == "linux" {
				kernel = b.Version
			}
		}
		switch {
		case kernel == "":
			add(false, "board-kernel-unknown", "check that the ISO is jetpack-nixos's iso_minimal for this profile's JetPack",
				"cannot tell which JetPack this installer ISO is for (no kernel version found)")
		case kernel != rules.Kernel && !strings.HasPrefix(kernel, rules.Kernel+"."):
			add(true, "board-wrong-jetpack", fmt.Sprintf("build the installer for JetPack %d (jetpack-nixos: iso_minimal for JetPack 6, iso_minimal_jp5, iso_minimal_jp7), or pick the profile for the JetPack the board runs", p.JetPack),
				"this installer's kernel is Linux %s; JetPack %d boots Linux %s", kernel, p.JetPack, rules.Kernel)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// BoardCheck says what to check a write against.
type BoardCheck struct {
	Profile *profiles.Profile
	// Ignore writes even what the board cannot boot
	// (--ignore-board-check); the refusals become warnings.
	Ignore bool
}

// PrepareWrite is the write step's preparation with the image inspected
// first: the same summary inspect prints is shown with the confirmation,
// the board check's warnings are emitted with their next step, and an
// image the board cannot boot is refused (exit 2, nothing written) unless
// bc.Ignore. Both faces (jetup write, the wizard's Write step) call it.
func PrepareWrite(ctx context.Context, env media.Env, req media.Request, bc BoardCheck, sink step.Sink) (*media.Plan, error) {
	notes, err := CheckWrite(ctx, env, req, bc, sink)
	if err != nil {
		return nil, err
	}
	plan, err := media.Prepare(ctx, env, req, sink)
	if err != nil {
		return nil, err
	}
	plan.Notes = notes
	return plan, nil
}

// PrepareBatch is PrepareWrite for several sticks at once: the image is
// inspected and checked against the board once, every stick gets the
// notes.
func PrepareBatch(ctx context.Context, env media.Env, req media.Request, targets []string, bc BoardCheck, sink step.Sink) (*media.Batch, error) {
	notes, err := CheckWrite(ctx, env, req, bc, sink)
	if err != nil {
		return nil, err
	}
	b, err := media.PrepareBatch(ctx, env, req, targets, sink)
	if err != nil {
		return nil, err
	}
	for _, p := range b.Plans {
		p.Notes = notes
	}
	return b, nil
}

// CheckWrite inspects the image and checks it against the board: the
// notes for the confirmation, or a refusal (exit 2) for an image the
// board cannot boot unless bc.Ignore. A station (no confirmation per
// card) calls it once before the first card.
func CheckWrite(ctx context.Context, env media.Env, req media.Request, bc BoardCheck, sink step.Sink) ([]string, error) {
	var notes []string
	if req.Image == "" {
		return nil, nil
	}
	rep, err := Inspect(ctx, req.Image, Options{Runner: env.Runner})
	switch {
	case err != nil && step.ExitCodeOf(err) == step.ExitRefused && isMissing(err):
		// media.Prepare says it the way write always has.
	case err != nil:
		sink.Emit(step.Warning{Warning: "could not inspect the image: " + err.Error(), Next: step.NextOf(err)})
	default:
		notes = append(notes, rep.Brief()...)
		for _, f := range CheckBoard(rep, bc.Profile) {
			if f.Refuse && !bc.Ignore {
				return nil, step.Refuse(f.Cause, f.Next+"; or pass --ignore-board-check to write it anyway", "%s; nothing was written", f.What)
			}
			w := f.What
			if f.Refuse {
				w += " (written anyway: --ignore-board-check)"
			}
			sink.Emit(step.Warning{Warning: w, Next: f.Next})
			notes = append(notes, "Board check: "+w)
		}
	}
	return notes, nil
}

func isMissing(err error) bool {
	var se *step.Error
	if e, ok := err.(*step.Error); ok {
		se = e
	}
	return se != nil && (se.Cause == "image-missing" || se.Cause == "image-unreadable" || se.Cause == "image-format")
}
