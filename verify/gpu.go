package verify

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// smiInfo is what `nvidia-smi` says about the GPU: its table's header
// ("| NVIDIA-SMI 540.4.0   Driver Version: 540.4.0   CUDA Version: 12.6 |")
// and the GPU row ("|   0  Orin (nvgpu)   N/A  | ...").
type smiInfo struct {
	Driver, CUDA, Name string
}

var (
	smiDriverRe = regexp.MustCompile(`Driver Version:\s*([0-9][0-9.]*)`)
	smiCUDARe   = regexp.MustCompile(`CUDA Version:\s*([0-9][0-9.]*|N/A)`)
	smiGPURe    = regexp.MustCompile(`^\|\s+(\d+)\s+(.+?)\s{2,}(On|Off|N/A)\s+\|`)
)

func parseSMI(body []byte) smiInfo {
	var s smiInfo
	text := string(body)
	if m := smiDriverRe.FindStringSubmatch(text); m != nil {
		s.Driver = m[1]
	}
	if m := smiCUDARe.FindStringSubmatch(text); m != nil {
		s.CUDA = m[1]
	}
	for _, l := range strings.Split(text, "\n") {
		if m := smiGPURe.FindStringSubmatch(l); m != nil {
			s.Name = strings.TrimSpace(m[2])
			break
		}
	}
	return s
}

// tegrastatsGPU picks the GPU load and the RAM from one tegrastats line
// ("RAM 4321/62801MB ... GR3D_FREQ 0%@[0,0] ...").
var tegraGR3DRe = regexp.MustCompile(`GR3D_FREQ (\S+)`)
var tegraRAMRe = regexp.MustCompile(`RAM (\d+/\d+MB)`)

func parseTegrastats(body []byte) (gr3d, ram string) {
	if m := tegraGR3DRe.FindSubmatch(body); m != nil {
		gr3d = string(m[1])
	}
	if m := tegraRAMRe.FindSubmatch(body); m != nil {
		ram = string(m[1])
	}
	return gr3d, ram
}

// boardSoC is the Tegra SoC in the board's compatible string
// ("nvidia,p3768-0000+p3767-0005 nvidia,p3767-0005 nvidia,tegra234").
func boardSoC(compatible string) string {
	for _, c := range strings.Fields(compatible) {
		if s, ok := strings.CutPrefix(c, "nvidia,tegra"); ok {
			return "tegra" + s
		}
	}
	return ""
}

// gpuSet picks the device set for this board: the profile's (refusing a
// board of another SoC), or the one its compatible names.
func (v *verifier) gpuSet(soc string) (*GPUSet, *Check) {
	if len(v.o.GPU) == 1 {
		g := v.o.GPU[0]
		if soc != "" && g.SoC != "" && soc != g.SoC {
			return nil, &Check{Status: Fail, Detail: fmt.Sprintf("the board is a %s, but the profile is for a %s (%s)", soc, g.SoC, g.Family),
				Next: "pick the profile of this board (--profile; `jetup profiles` lists them)"}
		}
		return &g, nil
	}
	for _, g := range v.o.GPU {
		if g.SoC == soc {
			return &g, nil
		}
	}
	return nil, nil
}

// gpu: the SoC's GPU device nodes exist; nvidia-smi's name and driver, or
// one tegrastats sample, say the GPU answers.
func (v *verifier) gpu() Check {
	sys := v.sys()
	soc := boardSoC(sys["compatible"])
	jetson := soc != ""
	if v.o.Jetson != nil {
		jetson = *v.o.Jetson
	}
	if !jetson {
		what := "the profile is not a Jetson's"
		if v.o.Jetson == nil {
			what = "the board is not a Jetson (device tree: " + clip(firstWord(sys["compatible"]), 60) + ")"
		}
		return Check{Status: NotEnabled, Detail: what}
	}
	set, bad := v.gpuSet(soc)
	if bad != nil {
		return *bad
	}
	if set == nil {
		return Check{Status: Warn, Detail: "jetup knows no GPU device nodes for " + orUnknown(soc),
			Next: "pass --profile with this board's profile, or add verify.gpu_devices to a user profile"}
	}
	found := map[string][]string{}
	if f := v.board.last("devices"); f != nil {
		for _, l := range strings.Split(string(f.Body), "\n") {
			if g, path, ok := strings.Cut(l, "\t"); ok {
				found[g] = append(found[g], path)
			}
		}
	}
	var missing, have []string
	for _, g := range set.Devices {
		if len(found[g]) == 0 {
			missing = append(missing, g)
			continue
		}
		have = append(have, found[g]...)
	}
	sort.Strings(have)
	var facts []string
	smiFailed := ""
	if f := v.board.last("nvidia-smi"); f != nil {
		s := parseSMI(f.Body)
		if f.RC != 0 || s.Name == "" {
			smiFailed = strings.Join(lastLines(f.Body, 2), "; ")
		} else {
			facts = append(facts, fmt.Sprintf("nvidia-smi: %s, driver %s, CUDA %s", clip(s.Name, 40), s.Driver, s.CUDA))
		}
	} else if f := v.board.last("tegrastats"); f != nil {
		gr3d, ram := parseTegrastats(f.Body)
		if gr3d != "" {
			facts = append(facts, fmt.Sprintf("tegrastats: GR3D_FREQ %s, RAM %s", clip(gr3d, 30), ram))
		}
	} else {
		facts = append(facts, "neither nvidia-smi nor tegrastats on the board")
	}
	name := set.Family + " GPU (" + set.Driver + ")"
	if len(missing) > 0 {
		return Check{Status: Fail, Detail: fmt.Sprintf("%s: missing %s", name, strings.Join(missing, ", ")),
			Next: fmt.Sprintf("the %s driver did not make its nodes: check `journalctl -k -b | grep -i %s` on the board and that the system sets hardware.nvidia-jetpack.enable with this board's som", set.Driver, set.Driver)}
	}
	if smiFailed != "" {
		return Check{Status: Fail, Detail: fmt.Sprintf("%s: %d device nodes, but nvidia-smi fails: %s", name, len(have), smiFailed),
			Next: "the driver loaded but does not answer: read `journalctl -k -b` on the board for the GPU's errors"}
	}
	return Check{Status: OK, Detail: fmt.Sprintf("%s: %s; %s", name, nodeList(have), strings.Join(facts, "; "))}
}

// nodeList names a few nodes and counts the rest.
func nodeList(nodes []string) string {
	if len(nodes) <= 4 {
		return strings.Join(nodes, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(nodes[:4], ", "), len(nodes)-4)
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return "none"
}

func orUnknown(s string) string {
	if s == "" {
		return "this SoC"
	}
	return s
}
