package sim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

// simulatedFlash runs the simulated flash edge for a profile and returns
// what its script prints (the replay data, without the pacing).
func simulatedFlash(t *testing.T, p *profiles.Profile, outcome string) (string, error) {
	t.Helper()
	e := &FlashEdge{Outcome: outcome, Speed: 0}
	script, err := e.Script(context.Background(), p)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(script), "flash.replay"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, rec := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.SplitN(rec, "\t", 3)
		if len(f) < 3 {
			t.Fatalf("bad replay record %q", rec)
		}
		out.WriteString(f[2])
		if f[1] == "l" {
			out.WriteByte('\n')
		}
	}
	return out.String(), nil
}

// bootText is what the board's console prints.
func bootText(p *profiles.Profile) string {
	var b bytes.Buffer
	for _, l := range BootFor(p) {
		b.Write(lineBytes(l))
	}
	return b.String()
}

// markers are the strings that name a board: a flash log or a boot that
// shows another board's marker shows the wrong board.
func markers(p *profiles.Profile) []string {
	b := p.Board
	m := []string{"Machine model: " + b.Model + "\r\n"}
	if b.Target != "" {
		m = append(m, "# Name: "+b.Target+",", "boardspec: "+b.Boardspec+"-"+b.Target+"-\n", b.DTB)
	}
	if b.FirmwareModel != "" {
		m = append(m, b.FirmwareModel)
	}
	if b.DTB != "" {
		m = append(m, b.DTB)
	}
	if r, ok := p.Release(); ok {
		m = append(m, "version "+r.L4T+"-", "Linux version "+r.Kernel+" ", "# R"+strings.Replace(r.L4T, ".", " , REVISION: ", 1)+"\n")
	}
	m = append(m, "console="+p.Console.KernelConsole+",", "Serial Getty on "+p.Console.KernelConsole)
	return m
}

// Every profile's simulated board is that board: its flash log names its
// flash target, module and release, its boot names its device tree model,
// console and firmware, and nothing in either names another board.
func TestEveryProfileSimulatesItsOwnBoard(t *testing.T) {
	all := embeddedProfiles()
	if len(all) < 15 {
		t.Fatalf("%d profiles", len(all))
	}
	for _, p := range all {
		t.Run(p.Name, func(t *testing.T) {
			if p.Board == nil {
				t.Fatal("no board: the simulated bench cannot be this board")
			}
			boot := bootText(p)
			out := boot
			flashLog, err := simulatedFlash(t, p, "success")
			switch p.Family {
			case profiles.Jetson:
				if err != nil {
					t.Fatal(err)
				}
				out += flashLog
				id, fab, sku, rev := p.Board.BoardID()
				for _, want := range []string{"# Name: " + p.Board.Target + ",", "Board ID(" + id + ") version(" + fab + ") sku(" + sku + ") revision(" + rev + ")",
					"--bldtb " + p.Board.DTB + " "} {
					if !strings.Contains(flashLog, want) {
						t.Errorf("flash log lacks %q", want)
					}
				}
				if v, _ := flash.Classify(strings.NewReader(flashLog)); v.Outcome != flash.Success {
					t.Errorf("the simulated flash is not a success: %+v", v)
				}
				if p.Board.BootFlash == "emmc" && !strings.Contains(flashLog, "Erasing /dev/mmcblk0boot0") {
					t.Error("an eMMC-boot board erases its eMMC boot partitions")
				}
			case profiles.RaspberryPi:
				if err == nil {
					t.Error("a Raspberry Pi has no flash step, but the simulated one flashed")
				}
				for _, jetson := range []string{"NVIDIA", "Jetson", "tegra", "MB1", "UEFI firmware", "L4T"} {
					if strings.Contains(boot, jetson) {
						t.Errorf("a Pi's boot says %q", jetson)
					}
				}
			}
			for _, m := range markers(p) {
				if !strings.Contains(out, m) {
					t.Errorf("the simulated board does not show its own %q", m)
				}
			}
			for _, q := range all {
				if q.Name == p.Name {
					continue
				}
				for _, m := range markers(q) {
					if strings.Contains(out, m) && !contains(markers(p), m) {
						t.Errorf("the simulated %s shows %s's %q", p.Name, q.Name, strings.TrimSpace(m))
					}
				}
			}

			// The console recognises the board the profile says.
			sum, _, err := serialcon.Scan(strings.NewReader(boot), nil, step.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Last(serialcon.FactModel) != p.Board.Model || !sum.Reached(serialcon.StageLogin) || !sum.Reached(serialcon.StageShell) {
				t.Errorf("console saw model %q, stages %+v", sum.Last(serialcon.FactModel), sum.Stages)
			}
			if p.Family == profiles.RaspberryPi {
				if !sum.Reached(serialcon.StageUBoot) || sum.Reached(serialcon.StageMB1) || sum.Reached(serialcon.StageUEFI) {
					t.Errorf("a Pi boots through U-Boot: %+v", sum.Stages)
				}
			} else if r, _ := p.Release(); !strings.HasPrefix(sum.Last(serialcon.FactFirmwareVersion), r.L4T+"-") {
				t.Errorf("firmware version %q, want JetPack %d's %s", sum.Last(serialcon.FactFirmwareVersion), p.JetPack, r.L4T)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The console session tells the simulated bench which board it expects,
// so the board on the simulated port is the profile's.
func TestSerialBenchBootsTheExpectedBoard(t *testing.T) {
	var pi *profiles.Profile
	for _, p := range embeddedProfiles() {
		if p.Name == "rpi4" {
			pi = p
		}
	}
	t.Setenv(SpeedEnv, "1000")
	bench := &SerialBench{}
	defer func() {
		if b, err := bench.Board(); err == nil {
			b.Close()
		}
	}()
	until, _ := serialcon.ParseUntil(serialcon.StageLogin)
	con := serialcon.New(serialcon.Options{Ports: bench, Profile: pi, Until: until, Timeout: time.Minute})
	res, err := con.Run(context.Background(), step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Last(serialcon.FactModel) != pi.Board.Model || !res.Reached(serialcon.StageUBoot) || res.Reached(serialcon.StageUEFI) {
		t.Errorf("the simulated console booted %q through %+v", res.Last(serialcon.FactModel), res.Stages)
	}
}
