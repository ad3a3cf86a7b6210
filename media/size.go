package media

import (
	"encoding/binary"
	"io"
)

// zstdSize sums the content sizes of every frame by walking frame and
// block headers (no decompression); 0 when a frame does not record its
// size or the file does not parse.
func zstdSize(r io.ReaderAt, size int64) int64 {
	var total int64
	pos := int64(0)
	hdr := make([]byte, 18)
	for pos < size {
		if _, err := r.ReadAt(hdr[:8], pos); err != nil {
			return 0
		}
		magic := binary.LittleEndian.Uint32(hdr)
		if magic&0xfffffff0 == 0x184d2a50 { // skippable frame
			pos += 8 + int64(binary.LittleEndian.Uint32(hdr[4:]))
			continue
		}
		if magic != 0xfd2fb528 {
			return 0
		}
		n, _ := r.ReadAt(hdr, pos+4)
		if n < 2 {
			return 0
		}
		fhd := hdr[0]
		single := fhd&0x20 != 0
		fcsFlag := fhd >> 6
		checksum := fhd&0x04 != 0
		off := 1
		if !single {
			off++ // window descriptor
		}
		off += []int{0, 1, 2, 4}[fhd&3]
		var fcs int64 = -1
		switch {
		case fcsFlag == 0 && single:
			fcs = int64(hdr[off])
			off++
		case fcsFlag == 1:
			fcs = int64(binary.LittleEndian.Uint16(hdr[off:])) + 256
			off += 2
		case fcsFlag == 2:
			fcs = int64(binary.LittleEndian.Uint32(hdr[off:]))
			off += 4
		case fcsFlag == 3:
			fcs = int64(binary.LittleEndian.Uint64(hdr[off:]))
			off += 8
		}
		if fcs < 0 {
			return 0
		}
		total += fcs
		pos += 4 + int64(off)
		// Blocks: a 3-byte header each; RLE blocks carry one byte.
		for {
			var bh [3]byte
			if _, err := r.ReadAt(bh[:], pos); err != nil {
				return 0
			}
			v := uint32(bh[0]) | uint32(bh[1])<<8 | uint32(bh[2])<<16
			last, typ, bsize := v&1 == 1, (v>>1)&3, int64(v>>3)
			pos += 3
			switch typ {
			case 1:
				pos++
			case 3:
				return 0
			default:
				pos += bsize
			}
			if last {
				break
			}
		}
		if checksum {
			pos += 4
		}
	}
	if pos != size {
		return 0
	}
	return total
}

// xzSize reads the uncompressed size from the index of every stream,
// walking back from the end; 0 when the file does not parse.
func xzSize(r io.ReaderAt, size int64) int64 {
	var total int64
	end := size
	buf := make([]byte, 12)
	for end > 0 {
		// Stream padding: groups of four zero bytes.
		if _, err := r.ReadAt(buf[:4], end-4); err != nil {
			return 0
		}
		if binary.LittleEndian.Uint32(buf) == 0 {
			end -= 4
			continue
		}
		if end < 24 {
			return 0
		}
		if _, err := r.ReadAt(buf, end-12); err != nil || string(buf[10:12]) != "YZ" {
			return 0
		}
		backward := (int64(binary.LittleEndian.Uint32(buf[4:])) + 1) * 4
		indexStart := end - 12 - backward
		if indexStart < 12 || backward > 1<<30 {
			return 0
		}
		index := make([]byte, backward)
		if _, err := r.ReadAt(index, indexStart); err != nil || index[0] != 0 {
			return 0
		}
		p := 1
		records, ok := uvarint(index, &p)
		if !ok {
			return 0
		}
		var blocks int64
		for i := uint64(0); i < records; i++ {
			unpadded, ok1 := uvarint(index, &p)
			uncompressed, ok2 := uvarint(index, &p)
			if !ok1 || !ok2 {
				return 0
			}
			blocks += (int64(unpadded) + 3) &^ 3
			total += int64(uncompressed)
		}
		end = indexStart - blocks - 12
		if end < 0 {
			return 0
		}
	}
	return total
}

// uvarint is xz's multibyte integer: 7 bits a byte, low first.
func uvarint(b []byte, p *int) (uint64, bool) {
	var v uint64
	for i := 0; i < 9; i++ {
		if *p >= len(b) {
			return 0, false
		}
		c := b[*p]
		*p++
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, true
		}
	}
	return 0, false
}
