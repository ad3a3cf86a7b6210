package serialcon

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzWatcher feeds arbitrary bytes through the cooker and the watcher the
// way a live session does, and checks what must hold for any input: no
// panic, only known stage and fact ids, clean short event lines, addresses
// that are real unicast IPv4, and the same result however the reads split
// the stream. Its corpus is testdata/fuzz/FuzzWatcher (seeded with the real
// transcripts); run it with `go test -fuzz FuzzWatcher ./serialcon`.
func FuzzWatcher(f *testing.F) {
	f.Add(transcript(f, "serial-01-agx-orin-r36-uefi-micro-usb-debug.txt"))
	f.Add(transcript(f, "serial-03-agx-orin-uefi-to-nixos-login.txt"))
	f.Add(qemuCapture(f))
	f.Add([]byte("nixos login: \x1b[1;32m[root@nixos:~]#\x1b[0m inet 10.0.0.7/8\r\n\xe2\x94"))
	known := map[string]bool{FactFirmwareVersion: true, FactNixOSVersion: true, FactHostname: true, FactIP: true, FactError: true, FactHostKey: true, FactSerialNumber: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := runWatch(data, len(data)+1)
		for _, st := range whole.Stages {
			if !IsStage(st.Stage) {
				t.Fatalf("unknown stage %q", st.Stage)
			}
			checkLine(t, st.Line)
		}
		for _, fa := range whole.Facts {
			if !known[fa.Fact] || fa.Value == "" {
				t.Fatalf("fact %q = %q", fa.Fact, fa.Value)
			}
			checkLine(t, fa.Value)
			if fa.Fact == FactIP {
				a, err := netip.ParseAddr(fa.Value)
				if err != nil || !a.Is4() || a.IsLoopback() || a.IsUnspecified() {
					t.Fatalf("address %q", fa.Value)
				}
			}
		}
		for _, n := range []int{1, 7} {
			if split := runWatch(data, n); !reflect.DeepEqual(split, whole) {
				t.Fatalf("reads of %d bytes give %+v, one read gives %+v", n, split, whole)
			}
		}
	})
}

func runWatch(p []byte, chunk int) Summary {
	var s Summary
	w := NewWatcher(s.add)
	c := newCooker(w.Line)
	for len(p) > 0 {
		k := min(chunk, len(p))
		c.feed(p[:k], time.Time{})
		p = p[k:]
	}
	w.Idle(c.partial(), time.Time{})
	return s
}

func checkLine(t *testing.T, s string) {
	t.Helper()
	if len(s) > 200 || !utf8.ValidString(s) {
		t.Fatalf("event text %q (%d bytes)", s, len(s))
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' {
			t.Fatalf("control character in event text %q", s)
		}
	}
}
