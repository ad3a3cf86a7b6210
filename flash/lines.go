package flash

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// cleanLine strips ANSI escape sequences and control characters from raw
// and trims spaces. It returns raw itself (trimmed) when there is nothing
// to strip, else a line built in *buf.
func cleanLine(buf *[]byte, raw []byte) []byte {
	i := 0
	for i < len(raw) && raw[i] >= 0x20 && raw[i] != 0x7f {
		i++
	}
	if i == len(raw) {
		return bytes.TrimSpace(raw)
	}
	out := append((*buf)[:0], raw[:i]...)
	for ; i < len(raw); i++ {
		switch b := raw[i]; {
		case b == 0x1b:
			i = skipEscape(raw, i)
		case b == '\t':
			out = append(out, ' ')
		case b < 0x20 || b == 0x7f:
		default:
			out = append(out, b)
		}
	}
	*buf = out
	return bytes.TrimSpace(out)
}

// skipEscape returns the index of the last byte of the escape sequence that
// starts at raw[i] (ESC).
func skipEscape(raw []byte, i int) int {
	if i+1 >= len(raw) {
		return i
	}
	switch next := raw[i+1]; {
	case next == '[': // CSI: parameters, intermediates, one final byte
		j := i + 2
		for j < len(raw) && raw[j] >= 0x20 && raw[j] <= 0x3f {
			j++
		}
		if j < len(raw) && raw[j] >= 0x40 && raw[j] <= 0x7e {
			return j
		}
		return j - 1
	case next == ']' || next == 'P' || next == '_' || next == '^': // OSC, DCS...: up to BEL or ST
		for j := i + 2; j < len(raw); j++ {
			if raw[j] == 0x07 {
				return j
			}
			if raw[j] == 0x1b && j+1 < len(raw) && raw[j+1] == '\\' {
				return j + 1
			}
		}
		return len(raw) - 1
	case next >= 0x20 && next <= 0x2f: // ESC ( B and friends
		if i+2 < len(raw) {
			return i + 2
		}
		return i + 1
	default:
		return i + 1
	}
}

// evidenceText is a cleaned line as valid UTF-8, cut to evidenceLen bytes.
func evidenceText(l []byte) string {
	if len(l) > evidenceLen {
		l = l[:evidenceLen]
	}
	s := strings.ToValidUTF8(string(l), "\uFFFD")
	for len(s) > evidenceLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// deviceStep parses the device flasher's "Step N/M... text" line.
func deviceStep(l []byte) (n, m int, ok bool) {
	rest, found := bytes.CutPrefix(l, []byte("Step "))
	if !found {
		return 0, 0, false
	}
	n, rest = number(rest)
	if n <= 0 || len(rest) == 0 || rest[0] != '/' {
		return 0, 0, false
	}
	m, rest = number(rest[1:])
	if m <= 0 || n > m || !bytes.HasPrefix(rest, []byte("...")) {
		return 0, 0, false
	}
	return n, m, true
}

// number reads up to 6 leading digits.
func number(b []byte) (int, []byte) {
	v, i := 0, 0
	for i < len(b) && i < 6 && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int(b[i]-'0')
		i++
	}
	if i == 0 {
		return -1, b
	}
	return v, b[i:]
}

// tegraflashStep reports whether l is a tegraflash.py step line:
// "[   2.6626 ] text".
func tegraflashStep(l []byte) bool {
	if len(l) < 5 || l[0] != '[' {
		return false
	}
	i := 1
	for i < len(l) && l[i] == ' ' {
		i++
	}
	if i == len(l) || l[i] < '0' || l[i] > '9' {
		return false
	}
	for i < len(l) && (l[i] >= '0' && l[i] <= '9' || l[i] == '.') {
		i++
	}
	for i < len(l) && l[i] == ' ' {
		i++
	}
	return i < len(l) && l[i] == ']'
}
