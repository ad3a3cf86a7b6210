package serialcon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

const edk2Firmware = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"

// TestRealEDK2FirmwareOverQEMUSerial boots real EDK2 firmware (Debian's
// QEMU_EFI.fd) in qemu with its serial port on a pty, once: jetup opens the
// pty before the firmware runs (qemu drops output while nobody has it
// open), recognises the UEFI banner and the shell prompt, sends `ver` and
// sees the firmware answer.
func TestRealEDK2FirmwareOverQEMUSerial(t *testing.T) {
	testkit.NeedCommands(t, "qemu-system-aarch64")
	_, err := os.Stat(edk2Firmware)
	testkit.Need(t, err == nil, edk2Firmware+" is missing (package qemu-efi-aarch64)")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// -S holds the CPU until the console is open; the monitor on stdin
	// lets the test start it and quit it.
	qemu := proc.Host{}.Command(ctx, "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-m", "256",
		"-bios", edk2Firmware, "-display", "none", "-nodefaults", "-serial", "pty", "-monitor", "stdio", "-S")
	monitor, _ := qemu.StdinPipe()
	out, _ := qemu.StdoutPipe()
	qemu.Stderr = qemu.Stdout
	if err := qemu.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = io.WriteString(monitor, "quit\n")
		_ = proc.EndGroup(qemu)
		_ = qemu.Wait()
		if proc.GroupAlive(qemu.Process.Pid) {
			t.Error("qemu outlived the test")
		}
	}()
	pts := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`/dev/pts/[0-9]+`)
		r := bufio.NewReader(out)
		for { // to EOF, so qemu never blocks on its monitor's output
			line, err := r.ReadString('\n')
			if m := re.FindString(line); m != "" {
				select {
				case pts <- m:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	var port string
	select {
	case port = <-pts:
	case <-time.After(bound):
		t.Fatalf("waited %v for qemu to say where its serial pty is", bound)
	}

	events := &eventLog{}
	con := New(Options{Port: port})
	sctx, stop := context.WithCancel(ctx)
	done := run(con, sctx, events)
	defer func() { stop(); <-done }()
	events.waitFor(t, "connected", isConn(EventConnected))
	if _, err := io.WriteString(monitor, "cont\n"); err != nil {
		t.Fatal(err)
	}

	// The firmware boots in emulation: these waits share the test's
	// four minutes.
	deadline, _ := ctx.Deadline()
	waitLong := func(what string, ok func(step.Event) bool) step.Event {
		t.Helper()
		var found step.Event
		if !events.changed.WaitUntil(time.Until(deadline), func() bool { found = events.find(ok); return found != nil }) {
			t.Fatalf("no %s within 4 minutes; console so far:\n%s", what, events.output())
		}
		return found
	}
	uefi := waitLong("UEFI banner", isStage(StageUEFI)).(Stage)
	if !strings.HasPrefix(uefi.Line, "UEFI firmware (version") {
		t.Errorf("banner line %q", uefi.Line)
	}
	waitLong("shell prompt", isStage(StageShell))
	before := len(events.output())
	if err := con.Send([]byte("ver\r")); err != nil {
		t.Fatal(err)
	}
	// The shell echoes the command, then answers with its version.
	answered := func() bool {
		after := events.output()[before:]
		lines, _ := cookLines([]byte(after), len(after))
		text := strings.Join(lines, "\n")
		return strings.Contains(text, "ver") && regexp.MustCompile(`UEFI v2\.[0-9]+ \(EDK II`).MatchString(text)
	}
	if !events.changed.WaitUntil(time.Until(deadline), answered) {
		t.Fatalf("no answer to ver within 4 minutes; after sending it:\n%q", events.output()[before:])
	}
	stop()
	r := <-done
	done <- r // the deferred receive
	if got := stageIDs(r.res.Summary); fmt.Sprint(got) != "[uefi shell]" {
		t.Errorf("stages %v", got)
	}
}

func isStage(id string) func(step.Event) bool {
	return func(e step.Event) bool { s, ok := e.(Stage); return ok && s.Stage == id }
}
