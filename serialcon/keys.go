package serialcon

import (
	"fmt"
	"strconv"
)

// Keys the firmware reads. EDK2 takes a lone ESC (after a short wait) as
// the Escape key: "ESC to enter Setup". F11, "to enter Boot Manager Menu",
// depends on the firmware's terminal type: the VT220/xterm sequence here is
// what EDK2's TTY terminal type and Linux take; VT100+ firmware wants
// KeyF11VT100Plus.
const (
	KeyEsc          = "\x1b"
	KeyF11          = "\x1b[23~"
	KeyF11VT100Plus = "\x1b!"
	KeyEnter        = "\r"
	KeyCtrlC        = "\x03"
)

// ParseEscapes turns --send text into bytes: \r \n \t \e (ESC) \a \b \0 \\
// and \xHH; anything else after a backslash is an error, so a typo does not
// reach the board.
func ParseEscapes(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, fmt.Errorf("%q ends with a lone backslash (write \\\\ for one)", s)
		}
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'e':
			out = append(out, 0x1b)
		case 'a':
			out = append(out, 0x07)
		case 'b':
			out = append(out, 0x08)
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("%q: \\x needs two hex digits", s)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("%q: \\x needs two hex digits", s)
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("%q: unknown escape \\%c (use \\r \\n \\t \\e \\a \\b \\0 \\\\ or \\xHH)", s, s[i])
		}
	}
	return out, nil
}
