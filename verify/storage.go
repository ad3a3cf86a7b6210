package verify

import (
	"fmt"
	"strconv"
	"strings"
)

// storage: k3s's data on an SD card or eMMC wears it out; a small board
// with no swap runs out of memory under k3s.
func (v *verifier) storage() Check {
	k := v.k3sInfo()
	f := v.board.last("storage")
	if f == nil {
		return Check{Status: Fail, Cause: CauseBadOutput, Detail: "the board did not report its storage"}
	}
	kv := map[string]string{}
	var swaps []string
	for _, l := range strings.Split(string(f.Body), "\n") {
		key, val, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		if key == "swap" {
			swaps = append(swaps, val)
		} else {
			kv[key] = val
		}
	}
	if !k.enabled() && kv["dir"] != "/var/lib/rancher/k3s" {
		return Check{Status: NotEnabled, Detail: "k3s is not installed"}
	}
	src := clip(kv["source"], 80)
	var warns, nexts []string
	if strings.Contains(src, "mmcblk") {
		warns = append(warns, fmt.Sprintf("%s is on %s (an SD card or eMMC): k3s writes a lot", kv["dir"], src))
		nexts = append(nexts, "put /var/lib/rancher/k3s on NVMe or a USB SSD")
	}
	memKiB, _ := strconv.ParseInt(v.sys()["mem_kib"], 10, 64)
	mem := fmt.Sprintf("%.1f GiB", float64(memKiB)/(1<<20))
	if len(swaps) == 0 && memKiB > 0 && memKiB <= 8<<20 {
		warns = append(warns, "no swap on a board with "+mem+" of memory")
		nexts = append(nexts, "enable swap (zramSwap.enable = true, or a swap file): k3s and its pods can run a small board out of memory")
	}
	if len(warns) > 0 {
		return Check{Status: Warn, Detail: strings.Join(warns, "; "), Next: strings.Join(nexts, "; ")}
	}
	sw := "no swap (" + mem + " of memory)"
	if len(swaps) > 0 {
		sw = "swap on " + clip(strings.Join(swaps, ", "), 80)
	}
	return Check{Status: OK, Detail: fmt.Sprintf("%s on %s; %s", kv["dir"], orNone(src), sw)}
}

func orNone(s string) string {
	if s == "" {
		return "(unknown device)"
	}
	return s
}
