package image

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLibconfig: sw-description comes from a bundle anyone can make; the
// parser must end, bounded, on any text.
func FuzzLibconfig(f *testing.F) {
	f.Add(`software = { version = "1.0"; hardware-compatibility: ["1.0", "#RE:^1"]; images: ( { filename = "a"; sha256 = "00"; } ); };`)
	f.Add("a = ( ( ( [ 1, 2L, 0x10, 1.5e3, true ] ) ) ); /* c */ b : \"x\" \"y\"; // d\n# e\n")
	f.Add("s = \"\\x41\\n\\\"\";")
	f.Fuzz(func(t *testing.T, src string) {
		_, _ = parseLibconfig(src)
	})
}

// FuzzSWU: a whole bundle (cpio headers, sizes, names, sw-description)
// from bytes; reading it must end with a report or a refusal.
func FuzzSWU(f *testing.F) {
	f.Add([]byte("070702000000010000816d0000000000000000000000010000000000000005000000000000000000000000000000000f00000000sw-description\x00\x00\x00\x00software = { version = \"1\"; };070702000000000000000000000000000000000000000001000000000000000000000000000000000000000000000000000b00000000TRAILER!!!\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "x.swu")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := InspectSWU(p)
		if err == nil && rep.SWU == nil {
			t.Fatal("no report and no error")
		}
	})
}
