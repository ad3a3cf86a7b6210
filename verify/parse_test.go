package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

func TestParseFailedReadsPlainAndMarkedLines(t *testing.T) {
	// systemctl list-units --failed --no-legend --plain; older systemd
	// keeps the ● marker even then.
	body := "nvpmodel.service loaded failed failed NVIDIA Jetson nvpmodel\n" +
		"● k3s.service      loaded failed failed Lightweight Kubernetes\n" +
		"0 loaded units listed.\n"
	got := parseFailed([]byte(body))
	if len(got) != 2 || got[0].Name != "nvpmodel.service" || got[0].Description != "NVIDIA Jetson nvpmodel" ||
		got[1].Name != "k3s.service" || got[1].Description != "Lightweight Kubernetes" {
		t.Fatalf("%+v", got)
	}
}

func TestParseSMIAndTegrastats(t *testing.T) {
	s := parseSMI([]byte("| NVIDIA-SMI 540.4.0                Driver Version: 540.4.0      CUDA Version: N/A      |\n" +
		"|   0  Orin (nvgpu)                  N/A  | N/A              N/A |                  N/A |\n"))
	if s.Driver != "540.4.0" || s.CUDA != "N/A" || s.Name != "Orin (nvgpu)" {
		t.Errorf("%+v", s)
	}
	// A line from GDWR/jetson_exporter#14 (AGX Orin, JetPack 6).
	gr3d, ram := parseTegrastats([]byte("04-11-2025 10:36:27 RAM 4321/62801MB (lfb 1759x4MB) SWAP 19/31400MB (cached 0MB) CPU [0%@729,0%@729] EMC_FREQ 0%@2133 GR3D_FREQ 0%@[0,0] VIC_FREQ 729 APE 174"))
	if gr3d != "0%@[0,0]" || ram != "4321/62801MB" {
		t.Errorf("tegrastats %q %q", gr3d, ram)
	}
	if boardSoC("nvidia,p3768-0000+p3767-0005 nvidia,p3767-0005 nvidia,tegra234 ") != "tegra234" || boardSoC("raspberrypi,4-model-b brcm,bcm2711") != "" {
		t.Error("boardSoC")
	}
}

func TestMalformedNodeJSONIsABadOutputNotAWait(t *testing.T) {
	for _, body := range []string{`{"kind": "Node", "status": {`, `[]`, `{"kind":"Pod"}`, "Error from server"} {
		n, waiting, bad := nodeState(&frame{Body: []byte(body)})
		if n != nil || waiting != "" || bad == nil {
			t.Errorf("%q: node %v waiting %q bad %v", body, n, waiting, bad)
		}
	}
	// A kubectl that failed (k3s still starting) is something to wait for.
	_, waiting, bad := nodeState(&frame{RC: 1, Body: []byte("The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?")})
	if bad != nil || !strings.Contains(waiting, "connection to the server") {
		t.Errorf("waiting %q bad %v", waiting, bad)
	}
}

func TestParseCDIReadsYAMLAndJSONAndRefusesTheRest(t *testing.T) {
	yml := "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: all\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvmap\ncontainerEdits:\n  deviceNodes:\n  - path: /dev/nvhost-ctrl-gpu\n"
	s, err := parseCDI("/etc/cdi/nvidia.yaml", []byte(yml))
	if err != nil || strings.Join(cdiNames(s), ",") != "nvidia.com/gpu=all" || cdiNodes(s, "all") != 2 {
		t.Fatalf("yaml: %v %+v", err, s)
	}
	js := "{\n\t\"cdiVersion\": \"0.5.0\",\n\t\"kind\": \"nvidia.com/gpu\",\n\t\"devices\": [{\"name\": \"0\", \"containerEdits\": {}}, {\"name\": \"all\", \"containerEdits\": {}}]\n}"
	if s, err := parseCDI("/var/run/cdi/x.json", []byte(js)); err != nil || strings.Join(cdiNames(s), ",") != "nvidia.com/gpu=0,nvidia.com/gpu=all" {
		t.Fatalf("json with tabs: %v", err)
	}
	for name, body := range map[string]string{"a.yaml": "devices: [\n", "b.json": "{", "c.yaml": "just: words\n"} {
		if _, err := parseCDI(name, []byte(body)); err == nil {
			t.Errorf("%s parsed", name)
		}
	}
}

func TestLastPushedIsTheNewestPushToThisKey(t *testing.T) {
	dir := t.TempDir()
	push := func(when time.Time, system, fp string, outcome runrec.Outcome) {
		run, err := runrec.Create(dir, runrec.Options{Kind: "push", Profile: "orin-nano-devkit", Now: func() time.Time { return when }})
		if err != nil {
			t.Fatal(err)
		}
		s := run.Begin(step.Push)
		d, _ := json.Marshal(pushDetails{System: system, Fingerprint: fp})
		_ = s.SetDetails(json.RawMessage(d))
		_ = s.Finish(outcome, "", nil)
		_ = run.Close(outcome)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	push(t0, "/nix/store/old-system", "SHA256:board", runrec.Success)
	push(t0.Add(time.Hour), "/nix/store/new-system", "SHA256:board", runrec.Success)
	push(t0.Add(2*time.Hour), "/nix/store/failed-system", "SHA256:board", runrec.Failed)
	push(t0.Add(3*time.Hour), "/nix/store/other-board", "SHA256:other", runrec.Success)
	if err := os.MkdirAll(filepath.Join(dir, "runs", "zzz-broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	sys, from := lastPushed(dir, "SHA256:board")
	if sys != "/nix/store/new-system" || !strings.Contains(from, "20260102T040405Z") {
		t.Errorf("got %q from %q", sys, from)
	}
	if sys, _ := lastPushed(dir, "SHA256:never"); sys != "" {
		t.Errorf("a board never pushed to: %q", sys)
	}
}
