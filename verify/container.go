package verify

import (
	"context"
	"fmt"
	"strings"
)

// container: a CDI spec under /etc/cdi or /var/run/cdi defines
// nvidia.com/gpu=all; with --container-image, podman (or docker) runs
// nvidia-smi in a container given that device.
func (v *verifier) container(ctx context.Context) Check {
	var runtimes []string
	if f := v.board.last("runtimes"); f != nil {
		runtimes = strings.Fields(string(f.Body))
	}
	var broken, names []string
	all := ""
	nodes := 0
	for _, f := range v.board.sections["cdi"] {
		if f.Truncated {
			broken = append(broken, f.Arg+" is larger than 1 MiB")
			continue
		}
		spec, err := parseCDI(f.Arg, f.Body)
		if err != nil {
			broken = append(broken, fmt.Sprintf("%s: %s", f.Arg, clip(err.Error(), 160)))
			continue
		}
		for _, n := range cdiNames(spec) {
			names = append(names, n)
			if n == "nvidia.com/gpu=all" && all == "" {
				all, nodes = f.Arg, cdiNodes(spec, "all")
			}
		}
	}
	if len(runtimes) == 0 && len(v.board.sections["cdi"]) == 0 {
		return Check{Status: NotEnabled, Detail: "no podman or docker on the board, and no CDI spec",
			Next: "enable virtualisation.podman (with hardware.nvidia-container-toolkit.enable) to run GPU containers"}
	}
	if all == "" {
		d := "no CDI spec defines nvidia.com/gpu=all under /etc/cdi or /var/run/cdi"
		if len(names) > 0 {
			d += " (defined: " + strings.Join(names, ", ") + ")"
		}
		if len(broken) > 0 {
			d += "; unreadable: " + strings.Join(broken, "; ")
		}
		return Check{Status: Fail, Detail: d,
			Next: "set hardware.nvidia-container-toolkit.enable = true: its nvidia-container-toolkit-cdi-generator service writes /var/run/cdi/nvidia-container-toolkit.json at boot (systemctl status nvidia-container-toolkit-cdi-generator)"}
	}
	detail := fmt.Sprintf("%s defines nvidia.com/gpu=all (%d device nodes)", all, nodes)
	if len(names) > 1 {
		detail += "; devices: " + strings.Join(names, ", ")
	}
	status, next := OK, ""
	if len(broken) > 0 {
		status, next = Warn, "fix or remove the unreadable spec: podman and k3s read every file there"
		detail += "; unreadable: " + strings.Join(broken, "; ")
	}
	if v.o.ContainerImage == "" {
		return Check{Status: status, Detail: detail, Next: next}
	}
	if len(runtimes) == 0 {
		return Check{Status: Fail, Detail: detail + "; no podman or docker to run " + v.o.ContainerImage,
			Next: "enable virtualisation.podman on the board"}
	}
	out, err := v.command(v.board, "container", nil)
	f := out["container"]
	if err != nil || f == nil {
		return Check{Status: Fail, Cause: CauseNotRun, Detail: detail + "; the board shell ended before the container ran"}
	}
	rt := f.Arg
	if f.RC != 0 {
		return Check{Status: Fail, Detail: fmt.Sprintf("%s; %s run --device nvidia.com/gpu=all %s nvidia-smi failed (exit %d): %s",
			detail, rt, v.o.ContainerImage, f.RC, strings.Join(lastLines(f.Body, 3), "; ")),
			Next: "run it by hand on the board; an image without nvidia-smi needs another image (--container-image)"}
	}
	gpu := ""
	if s := parseSMI(f.Body); s.Name != "" {
		gpu = ": " + clip(s.Name, 40)
	}
	return Check{Status: status, Next: next, Detail: fmt.Sprintf("%s; %s ran nvidia-smi in %s%s", detail, rt, v.o.ContainerImage, gpu)}
}
