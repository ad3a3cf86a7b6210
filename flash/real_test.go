package flash

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/assets"
)

// realVerdicts is what a person should be told about each real transcript
// in testdata/real (forum and issue pastes, each naming its source on
// top) and in assets/transcripts/flash. retry is the cause of an earlier
// attempt the log must report ("" for none).
var realVerdicts = map[string]struct {
	outcome Outcome
	cause   Cause
	stage   Stage
	retry   Cause
}{
	"ghaf-156-agx-orin-probe-fails-then-flashed.txt":                            {Success, "", StageSuccess, CauseRCMRejected},
	"oe4t-meta-tegra-1414-orin-nx-final-status-failed.txt":                      {Failed, CauseDeviceWriteFailed, StageFlashing, ""},
	"oe4t-meta-tegra-1824-orin-nano-fedora-usb-write-timeout.txt":               {Failed, CauseUSBTransport, StageProbe, ""},
	"oe4t-meta-tegra-1794-orin-nano-board-info-then-signing-failed.txt":         {Failed, CauseRCMRejected, StageProbe, ""},
	"oe4t-meta-tegra-1530-orin-nx-custom-carrier-signing-failed.txt":            {Failed, CauseSigningFailed, StageProbe, ""},
	"oe4t-meta-tegra-2213-fused-agx-orin-rcm-boot-return-value-8.txt":           {Failed, CauseRCMRejected, StageRCMBoot, ""},
	"oe4t-meta-tegra-1944-orin-nano-4gb-doflash-storage-info.txt":               {Failed, CauseAppletLoop, StageProbe, ""},
	"jetpack-nixos-29-xavier-nx-auvidea-applet-loop.txt":                        {Failed, CauseAppletLoop, StageProbe, ""},
	"jetpack-nixos-33-orin-nx-second-flash-gpt.txt":                             {Failed, CauseGPTInitFailed, StageFlashing, ""},
	"jetpack-nixos-84-old-initrd-script-exits-at-once.txt":                      {Incomplete, CauseUnknown, StageWaitDevice, ""},
	"nvidia-forum-50123-tx2-reading-board-information-failed.txt":               {Failed, CauseRCMRejected, StageProbe, ""},
	"nvidia-forum-60348-tx2-boot-rom-communication-failed.txt":                  {Failed, CauseUSBTransport, StageProbe, ""},
	"nvidia-forum-154551-tx2-custom-carrier-no-bootloader-running.txt":          {Failed, CauseAppletLoop, StageRCMBoot, ""},
	"nvidia-forum-304852-xavier-nx-massflash-bootrom-not-running.txt":           {Failed, CauseRCMRejected, StageRCMBoot, ""},
	"jetsonhacks-bootfromexternalstorage-4-agx-xavier-bootrom-then-applet.txt":  {Incomplete, CauseUnknown, StageProbe, CauseRCMRejected},
	"jetsonhacks-bootfromexternalstorage-11-xavier-nx-expose-ssh-timeout.txt":   {Failed, CauseNetworkBlocked, StageWaitDevice, ""},
	"jetsonhacks-bootfromexternalstorage-pr28-xavier-nx-waiting-for-target.txt": {Incomplete, CauseUnknown, StageWaitDevice, ""},
	"seeed-linux-for-tegra-53-orin-nx-error-timeout.txt":                        {Failed, CauseNetworkBlocked, StageWaitDevice, ""},
	"jetsonhacks-bootfromexternalstorage-9-xavier-nx-no-devices-to-flash.txt":   {Failed, CauseNoRecoveryDevice, StageProbe, ""},
	"oe4t-meta-tegra-1549-orin-nx-writing-partitions.txt":                       {Incomplete, CauseUnknown, StageFlashing, ""},
	"oe4t-meta-tegra-2346-orin-nano-4gb-hangs-waiting-for-flashpkg.txt":         {Incomplete, CauseUnknown, StageWaitDevice, ""},
	"oe4t-meta-tegra-752-tx2-nx-poll-retried.txt":                               {Incomplete, CauseUnknown, StageProbe, CauseAppletLoop},
	"nvidia-forum-183724-nano-probe-fails-then-rerun.txt":                       {Incomplete, CauseUnknown, StageProbe, CauseNoRecoveryDevice},

	"flash-01-jetpack-nixos-legacy-xavier-nx-return-value-8.txt": {Failed, CauseRCMRejected, StageRCMBoot, ""},
	"flash-02-orin-nano-usb-write-timeout.txt":                   {Failed, CauseUSBTransport, StageProbe, ""},
	"flash-03-jetpack-nixos-initrd-flash-orin-agx-cable.txt":     {Incomplete, CauseUnknown, StageProbe, ""},
	"flash-05-oe4t-initrd-flash-steps.txt":                       {Failed, CauseDeviceWriteFailed, StageFlashing, CauseUnknown},
}

// TestRealTranscriptVerdicts judges every real transcript and counts how
// many it gets right; every one must be right, and every file must have
// an expected verdict.
func TestRealTranscriptVerdicts(t *testing.T) {
	logs := map[string][]byte{}
	names, _ := filepath.Glob("testdata/real/*.txt")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("# Source: http")) {
			t.Errorf("%s: the first line must name its source (# Source: URL)", n)
		}
		logs[filepath.Base(n)] = b
	}
	embedded, _ := fs.Glob(assets.Transcripts(), "flash/*.txt")
	for _, n := range embedded {
		b, _ := fs.ReadFile(assets.Transcripts(), n)
		logs[filepath.Base(n)] = b
	}
	right := 0
	for name, b := range logs {
		w, ok := realVerdicts[name]
		if !ok {
			t.Errorf("%s: no expected verdict: add one", name)
			continue
		}
		v, _ := Classify(bytes.NewReader(b))
		good := v.Outcome == w.outcome && v.Cause == w.cause && v.Stage == w.stage
		if w.retry != "" {
			good = good && len(v.Retries) > 0 && v.Retries[len(v.Retries)-1].Cause == w.retry && v.Attempts == len(v.Retries)+1
		}
		if w.outcome == Failed && !hasEvidence(v, "") {
			good = false
		}
		if !good {
			t.Errorf("%s:\n got  %s/%s at %s, retries %+v\n want %s/%s at %s, retry %q\n evidence %+v", name, v.Outcome, v.Cause, v.Stage, v.Retries, w.outcome, w.cause, w.stage, w.retry, v.Evidence)
			continue
		}
		right++
	}
	for name := range realVerdicts {
		if _, ok := logs[name]; !ok {
			t.Errorf("%s: expected verdict for a transcript that is not there", name)
		}
	}
	t.Logf("real flash transcripts: %d, judged right: %d", len(logs), right)
	if !strings.Contains(t.Name(), "Real") {
		t.Fatal("unreachable")
	}
}
