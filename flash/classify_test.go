package flash

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/step"
)

// The real transcripts and what a person should be told about each.
func TestTranscripts(t *testing.T) {
	want := map[string]struct {
		outcome  Outcome
		cause    Cause
		stage    Stage
		evidence string
	}{
		"flash/flash-01-jetpack-nixos-legacy-xavier-nx-return-value-8.txt": {Failed, CauseRCMRejected, StageRCMBoot, "Error: Return value 8"},
		"flash/flash-02-orin-nano-usb-write-timeout.txt":                   {Failed, CauseUSBTransport, StageProbe, "ERROR: might be timeout in USB write."},
		"flash/flash-03-jetpack-nixos-initrd-flash-orin-agx-cable.txt":     {Incomplete, CauseUnknown, StageProbe, "./tegraflash.py --chip 0x23"},
		"flash/flash-05-oe4t-initrd-flash-steps.txt":                       {Failed, CauseDeviceWriteFailed, StageFlashing, "ERR: write failure to external storage"},
	}
	fsys := assets.Transcripts()
	names, err := fs.Glob(fsys, "flash/*.txt")
	if err != nil || len(names) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, name := range names {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no expected verdict: add one", name)
			continue
		}
		b, _ := fs.ReadFile(fsys, name)
		v, err := Classify(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if v.Outcome != w.outcome || v.Cause != w.cause || v.Stage != w.stage {
			t.Errorf("%s: got %s/%s at %s, want %s/%s at %s", name, v.Outcome, v.Cause, v.Stage, w.outcome, w.cause, w.stage)
		}
		if !hasEvidence(v, w.evidence) {
			t.Errorf("%s: evidence %+v lacks %q", name, v.Evidence, w.evidence)
		}
		if v.Hint == "" || strings.HasPrefix(v.Hint, "#") {
			t.Errorf("%s: hint %q", name, v.Hint)
		}
		// Fed a byte at a time, as a slow pty delivers it, the verdict is
		// the same.
		c := NewClassifier()
		for i := range b {
			_, _ = c.Write(b[i : i+1])
		}
		c.Close()
		if got := c.Verdict(); got.Outcome != v.Outcome || got.Cause != v.Cause || got.Stage != v.Stage || len(got.Evidence) != len(v.Evidence) {
			t.Errorf("%s: byte-wise %+v, whole %+v", name, got, v)
		}
	}
	// OE4T's first run hung in step 4; the second, failed, run decides.
	b, _ := fs.ReadFile(fsys, "flash/flash-05-oe4t-initrd-flash-steps.txt")
	if v, _ := Classify(bytes.NewReader(b)); v.Attempts != 2 {
		t.Errorf("OE4T transcript: %d attempts, want 2", v.Attempts)
	}
}

func hasEvidence(v Verdict, s string) bool {
	for _, e := range v.Evidence {
		if strings.Contains(e.Text, s) && e.Line > 0 {
			return true
		}
	}
	return false
}

func classifyString(s string) Verdict {
	v, _ := Classify(strings.NewReader(s))
	return v
}

// One small log per cause, from the strings in research/jetpack.md 1.3 and 3.
var causeLogs = []struct {
	cause Cause
	stage Stage
	log   string
}{
	{CauseNotRoot, StageStart, "# L4T BSP Information:\n# R36 , REVISION: 4.3\nflash.sh requires root privilege\n"},
	{CauseNotRoot, StageNone, "sudo: a password is required\n"},
	{CauseNoRecoveryDevice, StageProbe, "# L4T BSP Information:\nError: probing the target board failed.\n       Make sure the target board is connected through\n       USB port and is in recovery mode.\n"},
	{CauseUSBTransport, StageProbe, "[   0.8017 ] Sending bct_br\n[   1.3286 ] ERROR: might be timeout in USB write.\nError: Return value 3\nCommand tegrarcm_v2 --new_session --chip 0x23 0 --uid --download bct_br br_bct_BR.bct\nReading board information failed.\n"},
	{CauseRCMRejected, StageRCMBoot, "Error: Return value 8\nCommand tegrarcm_v2 --download bct_bootrom br_bct_BR.bct\nFailed flashing t186ref.\n"},
	{CauseRCMRejected, StageProbe, "[   0.2 ] Boot Rom communication\nReading board information failed.\n"},
	{CauseAppletLoop, StageProbe, strings.Repeat("[   1.1 ] tegrarcm_v2 --isapplet\n[   1.2 ] USB communication failed.Check if device is in recovery\n", 3)},
	{CauseAppletLoop, StageProbe, strings.Repeat("[   1.1 ] tegrarcm_v2 --isapplet\n[   1.3 ] tegrarcm_v2 --ismb2\n", 8)},
	{CauseGPTInitFailed, StageFlashing, "[  20.1 ] tegradevflash_v2 --pt flash.xml.bin --create\n[  21.5 ] E> NV3P_SERVER: Failed to initialize partition table from GPT.\nFailed flashing t186ref.\n"},
	{CauseGadgetNotDetected, StageWaitDevice, "Jetson device should now be flashing and will reboot when complete.\nWaiting up to 240s for Jetson device to appear via USB" + strings.Repeat(".", 481) + "\nJetson device not detected, please monitor the serial port or wait 5-15 minutes\n"},
	{CauseGadgetNotDetected, StageFlashing, "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00\nConnection to device failed: \nFlashing may have failed\n"},
	{CauseDeviceWriteFailed, StageFlashing, "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00\nboardspec: 3767-300-0005-L.3-1-1--\nStep 1/13... Erasing /dev/mtd0, this may take a while without any output...\nFlashing platform firmware unsuccessful. Entering console\n/ #\n"},
	{CauseDeviceWriteFailed, StageFlashing, "ERR: SPI boot device, but mtd0 device does not exist\nFlashing platform firmware unsuccessful.\nFlashing may have failed\n"},
	{CauseBoardspecMismatch, StageFlashing, "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00\nCould not find a matching boardspec in signed firmware directory for: 3767-300-0005-L.3-1-1\nAre you sure you created the right signed firmware for this type of device?\nFlashing platform firmware unsuccessful. Entering console\n"},
	{CauseDeviceTimeout, StageFlashing, "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00\nStep 2/13... Writing bct.bin (size=4096) to BCT (offset=0)\nconnection to device timed out\nFlashing may have failed\n"},
	{CauseDeviceTimeout, StageWaitDevice, "Step 3: Start the flashing process\nWaiting for target to boot-up...\nWaiting for target to boot-up...\nError: Timeout\n"},
	{CauseNetworkBlocked, StageWaitDevice, "Waiting for target to boot-up...\nDevice ping failed after RCM boot.\n"},
	{CauseNetworkBlocked, StageNone, "NFS port is blocked by UFW. Please allow NFS port in UFW.\n"},
	{CauseNoRecoveryDevice, StageProbe, "Error, too many devices in RCM mode\n"},
	{CauseSigningFailed, StageStart, "Starting at 2024-04-15T12:35:37\n./initrd-flash: line 292: flash.idx: No such file or directory\nERR: no SPI or eMMC boot partition entries found\nERR: signing failed at 2024-04-15T12:35:42+01:00\n"},
	{CauseUnknown, StageRCMBoot, "*** Flashing target device started. ***\nFailed flashing t186ref.\n"},
}

func TestEveryCause(t *testing.T) {
	covered := map[Cause]bool{}
	for _, c := range causeLogs {
		v := classifyString(c.log)
		if v.Outcome != Failed || v.Cause != c.cause || v.Stage != c.stage {
			t.Errorf("%q:\n got %s/%s at %q, want failed/%s at %q", c.log[:min(len(c.log), 60)], v.Outcome, v.Cause, v.Stage, c.cause, c.stage)
		}
		if v.Hint == "" || v.What == "" || len(v.Evidence) == 0 {
			t.Errorf("%s: no hint, what or evidence: %+v", c.cause, v)
		}
		covered[c.cause] = true
	}
	for _, c := range Causes {
		if !covered[c] {
			t.Errorf("no log classifies to %s", c)
		}
		if c.Hint() == "" || c.What() == "" {
			t.Errorf("%s has no hint", c)
		}
	}
}

func TestSpecificHintsReplaceTheCausesHint(t *testing.T) {
	v := classifyString("Error, too many devices in RCM mode\n")
	if !strings.Contains(v.Hint, "--usb-instance") {
		t.Errorf("hint %q", v.Hint)
	}
}

func TestAFailureFollowedByASuccessIsASuccess(t *testing.T) {
	log := causeLogs[3].log + "# L4T BSP Information:\n[   3.5000 ] RCM-boot started\nconnecting to /dev/serial/by-id/usb-NixOS_serial_0-if00\n" +
		"Step 9/9... Writing x\nFlashing platform firmware successful. Rebooting now.\nDevice reported flashing succeeded. Device should be rebooting.\n"
	v := classifyString(log)
	if v.Outcome != Success || v.Stage != StageSuccess || v.Attempts != 2 || v.Cause != "" {
		t.Errorf("%+v", v)
	}
	if !hasEvidence(v, "Device reported flashing succeeded") {
		t.Errorf("evidence %+v", v.Evidence)
	}
	// A retry in the same attempt (no new banner) counts too.
	v = classifyString("Error: Return value 3\nFlash complete (SUCCESS)\n")
	if v.Outcome != Success {
		t.Errorf("%+v", v)
	}
	// And the other way round the later failure decides.
	v = classifyString("Flashing platform firmware successful. Rebooting now.\n# L4T BSP Information:\nError: probing the target board failed.\n")
	if v.Outcome != Failed || v.Cause != CauseNoRecoveryDevice {
		t.Errorf("%+v", v)
	}
}

func TestLegacyAndRCMBootSuccessLines(t *testing.T) {
	legacy := "# L4T BSP Information:\n./tegraflash.py --chip 0x19 --cmd \"dump eeprom\"\n*** Flashing target device started. ***\n" +
		"[  30.1 ] Writing partition secondary_gpt with gpt_secondary_3_0.bin\n*** The target t186ref has been flashed successfully. ***\nReset the board to boot from internal eMMC.\n"
	if v := classifyString(legacy); v.Outcome != Success || v.Stage != StageSuccess {
		t.Errorf("legacy: %+v", v)
	}
	// The initrd script's flash.sh says the same after an RCM boot: then it
	// is a milestone, and a log that stops there is incomplete.
	rcm := "# L4T BSP Information:\n./tegraflash.py --chip 0x23 --cmd \"dump eeprom\"\n./tegraflash.py --chip 0x23 --cmd \"rcmboot\"\n[   9.9 ] RCM-boot started\n*** The target t186ref has been flashed successfully. ***\n"
	if v := classifyString(rcm); v.Outcome != Incomplete || v.Stage != StageRCMBoot {
		t.Errorf("rcm: %+v", v)
	}
	if v := classifyString(rcm + "Jetson device should now be flashing and will reboot when complete.\n"); v.Outcome != Incomplete || v.Stage != StageWaitDevice {
		t.Errorf("rcm then wait: %+v", v)
	}
}

func TestOtherFlowsMapToTheSameStages(t *testing.T) {
	nvidia := "Step 1: Build the flashing environment\nStep 2: Boot the device with flash initrd image\nEntering RCM boot\n[   0.1 ] RCM-boot started\n" +
		"Step 3: Start the flashing process\nWaiting for target to boot-up...\nRun command: flash on fc00:1:1:0::2\nFlash is successful\n"
	var got []Stage
	c := NewClassifier()
	c.OnSignal = func(s Signal) {
		if s.Kind == SignalStage {
			got = append(got, s.Stage)
		}
	}
	_, _ = c.Write([]byte(nvidia))
	c.Close()
	want := []Stage{StageStart, StageRCMBoot, StageWaitDevice, StageFlashing, StageSuccess}
	if strings.Join(stageStrings(got), " ") != strings.Join(stageStrings(want), " ") || c.Verdict().Outcome != Success {
		t.Errorf("NVIDIA flow: %v, verdict %+v", got, c.Verdict())
	}
	oe4t := "Starting at 2024-08-19T13:53:04-07:00\nFound Jetson device in recovery mode at USB 1-8.4\n== Step 1: Signing binaries at x ==\n== Step 2: Boot Jetson via RCM at x ==\n" +
		"== Step 3: Sending flash sequence commands at x ==\n== Step 4: Writing partitions on internal storage device at x ==\nSuccessfully finished at 2024-08-19T14:00:00-07:00\n"
	if v := classifyString(oe4t); v.Outcome != Success {
		t.Errorf("OE4T: %+v", v)
	}
}

func stageStrings(s []Stage) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}

func TestHostileInput(t *testing.T) {
	cases := map[string]string{
		"crlf":   "Jetson device should now be flashing\r\nJetson device not detected, please monitor the serial port\r\n",
		"ansi":   "\x1b[1;31mJetson device \x1b[0mnot detected\x1b]0;title\x07, please\n",
		"cr":     "Waiting up to 240s for Jetson device to appear via USB...\r....\rJetson device not detected\n",
		"utf8":   "\xff\xfe\xc3(Jetson device not detected\xe2\x82\n",
		"no-eol": "Jetson device not detected",
		"huge":   strings.Repeat(".", 5<<20) + "Jetson device not detected\n",
		"nul":    "Jetson\x00 device not detected\n",
		"tabs":   "\t\tJetson device not detected\t\n",
	}
	for name, log := range cases {
		v := classifyString(log)
		if v.Outcome != Failed || v.Cause != CauseGadgetNotDetected {
			t.Errorf("%s: %s/%s", name, v.Outcome, v.Cause)
		}
		for _, e := range v.Evidence {
			if !utf8Valid(e.Text) || len(e.Text) > evidenceLen+3 || strings.ContainsAny(e.Text, "\x1b\r\n\x00") {
				t.Errorf("%s: bad evidence %q", name, e.Text)
			}
		}
	}
	// A marker split across the chunk border of a huge line is still found.
	for _, at := range []int{maxLine - 5, maxLine - 20, maxLine + 3} {
		log := strings.Repeat("x", at) + "Jetson device not detected\n"
		if v := classifyString(log); v.Cause != CauseGadgetNotDetected {
			t.Errorf("marker at %d lost: %+v", at, v)
		}
	}
	if a, b := classifyString("a\nb\n").Lines, classifyString("a\r\nb").Lines; a != 2 || b != 2 {
		t.Errorf("lines %d %d, want 2", a, b)
	}
	// Line numbers count \n only, as an editor does.
	v := classifyString("a\r\nb\rc\n\nJetson device not detected\n")
	if v.Evidence[0].Line != 4 {
		t.Errorf("line %d, want 4", v.Evidence[0].Line)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func TestTranscriptAnnotationsAreNotOutput(t *testing.T) {
	log := "# Source: a forum thread\n#   success would print \"*** The target t186ref has been flashed successfully. ***\"\n" +
		"#  - \"Flashing platform firmware successful\" ends it\n"
	if v := classifyString(log); v.Outcome != Incomplete || v.Stage != StageNone {
		t.Errorf("%+v", v)
	}
	if v := classifyString("###############\n# L4T BSP Information:\n# R35 , REVISION: 4.1\n"); v.Stage != StageStart {
		t.Errorf("banner: %+v", v)
	}
}

func TestStepProgress(t *testing.T) {
	var steps [][2]int
	c := NewClassifier()
	c.OnSignal = func(s Signal) {
		if s.Kind == SignalStep {
			steps = append(steps, [2]int{s.Step, s.Steps})
		}
	}
	_, _ = c.Write([]byte("Step 1/13... Erasing /dev/mtd0\nStep 2/13... Writing a\nStep 14/13... bogus\nStep x/13... bogus\nStep 3/13 no dots\n"))
	if len(steps) != 2 || steps[1] != [2]int{2, 13} {
		t.Errorf("steps %v", steps)
	}
	if v := c.Verdict(); v.Step != 2 || v.Steps != 13 || v.Stage != StageFlashing {
		t.Errorf("%+v", v)
	}
}

func TestFinish(t *testing.T) {
	mk := func(log string) *Classifier {
		c := NewClassifier()
		_, _ = c.Write([]byte(log))
		return c
	}
	flashing := "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00\nStep 1/13... Erasing /dev/mtd0\n"
	cases := []struct {
		name  string
		log   string
		exit  Exit
		out   Outcome
		cause Cause
	}{
		{"custom script exit 0", "hello\n", Exit{End: EndExited, Code: 0}, Success, ""},
		{"exit 0 but failure in log", "Error: probing the target board failed.\n", Exit{End: EndExited}, Failed, CauseNoRecoveryDevice},
		{"unknown exit 1", "hello\n", Exit{End: EndExited, Code: 1}, Failed, CauseUnknown},
		{"exit 2 while waiting", "Jetson device should now be flashing\n", Exit{End: EndExited, Code: 2}, Failed, CauseGadgetNotDetected},
		{"console", flashing, Exit{End: EndConsole, Code: 130}, Failed, CauseDeviceWriteFailed},
		{"timeout while flashing", flashing, Exit{End: EndTimeout, Code: 143}, Incomplete, CauseDeviceTimeout},
		{"timeout in a loop", strings.Repeat("tegrarcm_v2 --isapplet\n", 20), Exit{End: EndTimeout, Code: 143}, Incomplete, CauseAppletLoop},
		{"cancelled", flashing, Exit{End: EndCancelled, Code: 143}, Incomplete, CauseUnknown},
		{"stuck in the applet loop", strings.Repeat("tegrarcm_v2 --isapplet\n", 60), Exit{End: EndStuck, Code: 143}, Failed, CauseAppletLoop},
		{"success then killed", "Flashing platform firmware successful\n", Exit{End: EndCancelled, Code: 143}, Success, ""},
	}
	for _, c := range cases {
		v := mk(c.log).Finish(c.exit)
		if v.Outcome != c.out || v.Cause != c.cause || v.Ended != c.exit.End || v.ExitCode == nil || *v.ExitCode != c.exit.Code {
			t.Errorf("%s: %+v", c.name, v)
		}
		if v.Hint == "" {
			t.Errorf("%s: no hint", c.name)
		}
	}
	if v := mk("").Finish(Exit{End: EndExited, Code: 127}); !strings.Contains(v.Hint, "could not be started") {
		t.Errorf("127: %q", v.Hint)
	}
}

func TestVerdictError(t *testing.T) {
	code := func(v Verdict) int {
		var e interface{ ExitCode() int }
		err := VerdictError(v)
		if err == nil {
			return 0
		}
		e = err.(interface{ ExitCode() int })
		return e.ExitCode()
	}
	for _, c := range []struct {
		v    Verdict
		want int
	}{
		{Verdict{Outcome: Success}, 0},
		{Verdict{Outcome: Failed, Cause: CauseDeviceWriteFailed}, 1},
		{Verdict{Outcome: Failed, Cause: CauseNoRecoveryDevice}, 2},
		{Verdict{Outcome: Incomplete, Ended: EndCancelled}, 3},
		{Verdict{Outcome: Incomplete, Ended: EndTimeout}, 3},
	} {
		if got := code(c.v); got != c.want {
			t.Errorf("%+v: exit %d, want %d", c.v, got, c.want)
		}
	}
}

// Every failure marker, followed by later progress, is a retry and not the
// outcome; the script's own failure verdicts are never undone that way.
func TestEveryFailureFollowedByProgressIsARetry(t *testing.T) {
	for _, r := range rules {
		if r.cause == "" {
			continue
		}
		line := r.pat + "x" // "Failed flashing t186ref."
		log := "Step 1/9... Writing a\n" + line + "\nStep 2/9... Writing b\n"
		v := classifyString(log)
		if r.final || r.console {
			if v.Outcome != Failed || v.Cause != r.cause || v.Attempts != 1 || len(v.Retries) != 0 {
				t.Errorf("%q is the script's verdict, later progress must not undo it: %+v", r.pat, v)
			}
			continue
		}
		if v.Outcome != Incomplete || v.Stage != StageFlashing || v.Step != 2 || v.Attempts != 2 || len(v.Retries) != 1 {
			t.Errorf("%q then progress: got %s at %s step %d, %d attempts, retries %+v", r.pat, v.Outcome, v.Stage, v.Step, v.Attempts, v.Retries)
			continue
		}
		if rt := v.Retries[0]; rt.Outcome != Failed || rt.Cause != r.cause || len(rt.Evidence) == 0 || rt.Evidence[0].Line != 2 {
			t.Errorf("%q: retry %+v", r.pat, rt)
		}
		// A success verdict after the failure wins, and says it retried.
		v = classifyString(line + "\nDevice reported flashing succeeded. Device should be rebooting.\n")
		if v.Outcome != Success || v.Attempts != 2 || len(v.Retries) != 1 || v.Retries[0].Cause != r.cause {
			t.Errorf("%q then success: %+v", r.pat, v)
		}
	}
}

// The legacy flash.sh fails to read the board, the board is put back in
// recovery and the same log goes on to flash it (ghaf PR #156's shape).
func TestAFailedProbeThenAFlashedBoardIsASuccessWithARetry(t *testing.T) {
	log := "# L4T BSP Information:\n./tegraflash.py --chip 0x23 --cmd \"dump eeprom cvm cvm.bin; reboot recovery\"\n" +
		"[   0.1171 ] Sending bct_br\n[   0.1213 ] ERROR: might be timeout in USB write.\nError: Return value 3\n" +
		"Command tegrarcm_v2 --new_session --chip 0x23 0 --uid --download bct_br br_bct_BR.bct\nReading board information failed.\n" +
		"[   7.3330 ] Erasing spi: 0 .........\n*** The target t186ref has been flashed successfully. ***\n"
	v := classifyString(log)
	if v.Outcome != Success || v.Attempts != 2 || len(v.Retries) != 1 {
		t.Fatalf("%+v", v)
	}
	r := v.Retries[0]
	if r.Outcome != Failed || r.Cause != CauseUSBTransport || r.Stage != StageProbe || !evidenceHas(r.Evidence, "Reading board information failed") {
		t.Errorf("retry %+v", r)
	}
}

// tegraflash's own polling: a failed poll, then the bootloader answers.
func TestAFailedPollThenAnAnswerIsNoFailure(t *testing.T) {
	log := "[   8.1121 ] tegrarcm_v2 --isapplet\n[   8.1137 ] USB communication failed.Check if device is in recovery\n" +
		"[   8.1159 ] tegradevflash_v2 --iscpubl\n[   8.1175 ] Cannot Open USB\n[   9.1208 ] tegrarcm_v2 --isapplet\n" +
		"[   9.1259 ] tegradevflash_v2 --iscpubl\n[   9.1274 ] Bootloader version 01.00.0000\n"
	if v := classifyString(log); v.Outcome == Failed || v.Attempts != 2 || v.Retries[0].Cause != CauseAppletLoop {
		t.Errorf("%+v", v)
	}
}

func evidenceHas(ev []Evidence, s string) bool {
	for _, e := range ev {
		if strings.Contains(e.Text, s) {
			return true
		}
	}
	return false
}

// OE4T's initrd-flash prints "Successfully finished at" whatever the
// device's final status said (meta-avocado PR #355).
func TestTheScriptsOwnFailureVerdictIsNeverASuccess(t *testing.T) {
	for name, log := range map[string]string{
		"status then finished": "ERR: could not find nvme0n1\n== Step 5: Waiting for final status from device at x ==\nFinal status: FAILED\nSuccessfully finished at 2023-11-13T11:36:09-06:00\n",
		"finished then status": "Successfully finished at 2023-11-13T11:36:09-06:00\nFinal status: FAILED\n",
		"status alone":         "Final status: FAILED\nSuccessfully finished at 2023-11-13T11:36:09-06:00\nFlash is successful\n",
		"console":              "Flashing platform firmware unsuccessful. Entering console\nFlashing platform firmware successful\n",
	} {
		if v := classifyString(log); v.Outcome != Failed {
			t.Errorf("%s: %+v", name, v)
		}
	}
	if v := classifyString("Final status: SUCCESS\nSuccessfully finished at x\n"); v.Outcome != Success {
		t.Errorf("OE4T success: %+v", v)
	}
	if v := classifyString("Successfully finished at x\n"); v.Outcome != Success {
		t.Errorf("OE4T success without a status line: %+v", v)
	}
}

// The script's exit status 2 (the device never appeared) is jetup's too.
func TestScriptExitTwoIsExitTwo(t *testing.T) {
	c := NewClassifier()
	_, _ = c.Write([]byte("Jetson device should now be flashing and will reboot when complete.\nWaiting up to 240s for Jetson device to appear via USB......\n" +
		"Jetson device not detected, please monitor the serial port or wait 5-15 minutes\n"))
	v := c.Finish(Exit{End: EndExited, Code: 2})
	if v.Outcome != Failed || v.Cause != CauseGadgetNotDetected {
		t.Fatalf("%+v", v)
	}
	if code := step.ExitCodeOf(VerdictError(v)); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	// A device-side failure (the script's exit 1) stays 1.
	c = NewClassifier()
	_, _ = c.Write([]byte("Flashing platform firmware unsuccessful.\nFlashing may have failed\n"))
	if code := step.ExitCodeOf(VerdictError(c.Finish(Exit{End: EndExited, Code: 1}))); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}

// A hostile log of endless fail-and-retry keeps a bounded list.
func TestRetriesAreBounded(t *testing.T) {
	v := classifyString(strings.Repeat("Reading board information failed.\nBoot Rom communication completed\n", 1000) + "Reading board information failed.\n")
	if v.Attempts != 1001 || len(v.Retries) != maxRetries || v.Outcome != Failed {
		t.Errorf("attempts %d, retries %d, %s", v.Attempts, len(v.Retries), v.Outcome)
	}
}
