package disklabel

import (
	"bytes"
	"testing"
)

// FuzzRead feeds Read any disk: it must never panic, never allocate by a
// size it read, and always say what it found. Seeds: a valid GPT (with its
// backup), a hybrid MBR, an MBR with an extended chain, and the crafted
// entry size of issue 21.
func FuzzRead(f *testing.F) {
	// Small images: the fuzzer minimises every new input byte by byte.
	f.Add(gptImageN(16, 512, 4, []testPart{{espGUID, 3, 6, "ESP"}, {linuxGUID, 7, 13, "root_1"}}))
	hybrid := gptImageN(16, 512, 4, []testPart{{espGUID, 3, 12, "ESP"}})
	putMBR(hybrid, 1, 0x0c, 3, 10)
	f.Add(hybrid)
	m := make([]byte, 40*512)
	putMBR(m, 0, 0x0c, 2, 10)
	putMBR(m, 1, 0x05, 20, 40)
	m[510], m[511] = 0x55, 0xaa
	ebr := m[20*512:]
	putMBR(ebr, 0, 0x83, 1, 5)
	putMBR(ebr, 1, 0x05, 10, 10)
	ebr[510], ebr[511] = 0x55, 0xaa
	f.Add(m)
	crafted := gptImageN(16, 512, 4, nil)
	crafted[512+84], crafted[512+85], crafted[512+86], crafted[512+87] = 0x00, 0xff, 0xff, 0xff
	refreshGPT(crafted, 512, 1)
	f.Add(crafted)
	f.Add(gptImageN(8, 4096, 4, []testPart{{espGUID, 3, 5, "ESP"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if len(b) >= 512 {
				t.Fatalf("%d bytes unreadable: %v", len(b), err)
			}
			return
		}
		if d.Damaged != (len(d.Problems) > 0) {
			t.Fatalf("damaged %v with problems %q", d.Damaged, d.Problems)
		}
		for _, p := range d.Partitions {
			if p.Start < 0 || p.Size < 0 || p.End() < p.Start {
				t.Fatalf("partition %+v", p)
			}
		}
		_ = d.Lines()
	})
}
