package flash

import (
	"bytes"
	"fmt"
	"io/fs"
	"testing"

	"github.com/jetup/jetup/assets"
)

// benchLog is about 16 MiB of flash output as the classifier meets it: the
// real transcripts, and long runs of the jetpack-nixos initrd flash with
// tegraflash step lines, ANSI colour, \r-redrawn progress, CRLF from the
// device's tty and a wall of waiting dots.
func benchLog() []byte {
	var b bytes.Buffer
	fsys := assets.Transcripts()
	names, _ := fs.Glob(fsys, "flash/*.txt")
	for b.Len() < 16<<20 {
		for _, n := range names {
			t, _ := fs.ReadFile(fsys, n)
			b.Write(t)
		}
		b.WriteString("###############################################################################\n# L4T BSP Information:\n# R36 , REVISION: 4.3\n")
		b.WriteString("./tegraflash.py --chip 0x23 --applet \"/tmp/tmp.X/bootloader/mb1_t234_prod.bin\" --skipuid --cfg readinfo_t234_min_prod.xml --cmd \"dump eeprom cvm cvm.bin; dump custinfo custinfo_out.bin; reboot recovery\"\n")
		for i := 0; i < 400; i++ {
			fmt.Fprintf(&b, "[ %8.4f ] tegrahost_v2 --chip 0x23 0 --align mb1_t234_prod_aligned.bin\n", float64(i)/10)
			fmt.Fprintf(&b, "\x1b[1;32m[ %8.4f ]\x1b[0m Sending bct_br\r\n", float64(i)/10)
		}
		b.WriteString("[  30.0000 ] RCM-boot started\nJetson device should now be flashing and will reboot when complete.\nWaiting up to 240s for Jetson device to appear via USB")
		b.Write(bytes.Repeat([]byte("."), 300))
		b.WriteString("\nconnecting to /dev/serial/by-id/usb-NixOS_serial_0-if00\r\nboardspec: 3767-300-0005-L.3-1-1--\r\n")
		for i := 1; i <= 60; i++ {
			fmt.Fprintf(&b, "Step %d/60... Writing bootloader/part%d.bin (size=%d) to A_part%d (offset=%d)\r\n", i, i, i*4096, i, i*65536)
			fmt.Fprintf(&b, "progress %d%%\rprogress %d%%\r", i, i+1)
		}
		b.WriteString("Finished flashing device\r\nFlashing platform firmware successful. Rebooting now.\r\nDevice reported flashing succeeded. Device should be rebooting.\n")
	}
	return b.Bytes()
}

// BenchmarkClassify: goal >= 50 MB/s of log (docs/BENCHMARKS.md "Flash").
func BenchmarkClassify(b *testing.B) {
	log := benchLog()
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for b.Loop() {
		v, _ := Classify(bytes.NewReader(log))
		if v.Outcome != Success {
			b.Fatalf("%+v", v)
		}
	}
}

// BenchmarkClassifyLive adds what a live run costs on top: a signal per
// line for the events.
func BenchmarkClassifyLive(b *testing.B) {
	log := benchLog()
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for b.Loop() {
		c := NewClassifier()
		n := 0
		c.OnSignal = func(Signal) { n++ }
		for p := log; len(p) > 0; {
			k := min(len(p), 4096) // a pty read
			_, _ = c.Write(p[:k])
			p = p[k:]
		}
		c.Close()
		if n == 0 {
			b.Fatal("no signals")
		}
	}
}
