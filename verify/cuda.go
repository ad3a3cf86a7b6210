package verify

import (
	"context"
	"strings"
)

// cuda runs the CUDA sample (--cuda-sample, or the profile's) and passes
// on exit 0, showing its device line.
func (v *verifier) cuda(ctx context.Context) Check {
	cmd, fromProfile := v.o.CUDASample, false
	if cmd == "" {
		cmd, fromProfile = v.o.ProfileCUDASample, true
	}
	if cmd == "" {
		return Check{Status: NotEnabled, Detail: "no CUDA sample named",
			Next: "pass --cuda-sample with a command or store path on the board (a deviceQuery build; jetpack-nixos has cuda-test)"}
	}
	out, err := v.command(v.board, "cuda", nil)
	f := out["cuda"]
	if err != nil || f == nil {
		return Check{Status: Fail, Cause: CauseNotRun, Detail: "the board shell ended before the CUDA sample ran"}
	}
	lines := lastLines(f.Body, 3)
	device := ""
	for _, l := range strings.Split(string(f.Body), "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "Device 0:") || strings.HasPrefix(t, "GPU Device 0:") {
			device = clip(t, 100)
			break
		}
	}
	failedText := strings.Contains(string(f.Body), "Result = FAIL")
	switch {
	case f.RC == 127 && fromProfile:
		return Check{Status: NotEnabled, Detail: "the profile's CUDA sample " + clip(cmd, 80) + " is not installed on the board",
			Next: "add it to the system (jetpack-nixos: pkgs.nvidia-jetpack.cudaTests) or pass --cuda-sample"}
	case f.RC == 127:
		return Check{Status: Fail, Detail: clip(cmd, 80) + " is not on the board: " + strings.Join(lines, "; "),
			Next: "give a command or store path that exists on the board (push the system that holds it first)"}
	case f.RC == 124:
		return Check{Status: Fail, Detail: clip(cmd, 80) + " did not finish within 5 minutes", Next: "run it by hand on the board to see where it hangs"}
	case f.RC != 0 || failedText:
		return Check{Status: Fail, Detail: clip(cmd, 80) + " failed: " + strings.Join(lines, "; "),
			Next: "a CUDA runtime newer than the board's driver says \"driver version is insufficient\": build the sample against the board's JetPack"}
	}
	d := clip(shortSystem(cmd), 60) + " passed"
	if device != "" {
		d += ": " + device
	}
	return Check{Status: OK, Detail: d}
}
