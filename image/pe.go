package image

import (
	"encoding/binary"
	"strings"
)

// ukiInfo reads a Unified Kernel Image's PE header: the machine, and its
// .osrel (os-release of the system inside) and .uname sections. Only the
// bytes given are looked at (the caller reads a bounded head of the file);
// a section outside them is skipped.
func ukiInfo(b []byte) (arch, version, detail string) {
	le := binary.LittleEndian
	if len(b) < 0x40 || string(b[:2]) != "MZ" {
		return "", "", "not a PE file"
	}
	pe := int(le.Uint32(b[0x3c:]))
	if pe < 0 || pe+24 > len(b) || string(b[pe:pe+4]) != "PE\x00\x00" {
		return "", "", "not a PE file"
	}
	switch le.Uint16(b[pe+4:]) {
	case 0xaa64:
		arch = "aarch64"
	case 0x8664:
		arch = "x86_64"
	case 0x14c:
		arch = "i686"
	case 0x1c2, 0x1c4:
		arch = "armv7"
	case 0x5064:
		arch = "riscv64"
	}
	n := int(le.Uint16(b[pe+6:]))
	tab := pe + 24 + int(le.Uint16(b[pe+20:]))
	var osrel map[string]string
	uname := ""
	for i := 0; i < n && i < 96; i++ {
		s := tab + 40*i
		if s+40 > len(b) {
			break
		}
		name := strings.TrimRight(string(b[s:s+8]), "\x00")
		size, ptr := int(le.Uint32(b[s+8:])), int(le.Uint32(b[s+20:]))
		if raw := int(le.Uint32(b[s+16:])); raw < size {
			size = raw
		}
		if size <= 0 || size > 64<<10 || ptr < 0 || ptr+size > len(b) {
			continue
		}
		switch name {
		case ".osrel":
			osrel = parseOSRelease(string(b[ptr : ptr+size]))
		case ".uname":
			uname = clean(strings.TrimRight(string(b[ptr:ptr+size]), "\x00\n"))
		}
	}
	if osrel == nil {
		return arch, "", "no .osrel section: not a UKI"
	}
	version = osrel["IMAGE_VERSION"]
	if version == "" {
		version = osrel["VERSION_ID"]
	}
	detail = osrel["PRETTY_NAME"]
	if uname != "" {
		detail += ", Linux " + uname
	}
	return arch, version, strings.TrimPrefix(detail, ", ")
}

// parseOSRelease reads KEY=value lines (values unquoted).
func parseOSRelease(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		out[k] = clean(strings.Trim(v, `"'`))
	}
	return out
}

// clean drops control characters from text read from an image.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}
