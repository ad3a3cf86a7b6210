package serialcon

import (
	"strconv"
	"strings"
)

// sgr is a character's look: colours and attributes, as SGR sets them.
type sgr struct {
	fg, bg int32 // -1 default, 0-255 indexed, 1<<24|rgb true colour
	attrs  uint8
}

const (
	attrBold uint8 = 1 << iota
	attrDim
	attrItalic
	attrUnderline
	attrBlink
	attrReverse
	attrHidden
	attrStrike
)

var defaultStyle = sgr{fg: -1, bg: -1}

// apply updates s with an SGR parameter list.
func (s sgr) apply(params []int) sgr {
	if len(params) == 0 {
		return defaultStyle
	}
	for i := 0; i < len(params); i++ {
		p := params[i]
		switch {
		case p <= 0:
			s = defaultStyle
		case p == 1:
			s.attrs |= attrBold
		case p == 2:
			s.attrs |= attrDim
		case p == 3:
			s.attrs |= attrItalic
		case p == 4:
			s.attrs |= attrUnderline
		case p == 5 || p == 6:
			s.attrs |= attrBlink
		case p == 7:
			s.attrs |= attrReverse
		case p == 8:
			s.attrs |= attrHidden
		case p == 9:
			s.attrs |= attrStrike
		case p == 21 || p == 22:
			s.attrs &^= attrBold | attrDim
		case p == 23:
			s.attrs &^= attrItalic
		case p == 24:
			s.attrs &^= attrUnderline
		case p == 25:
			s.attrs &^= attrBlink
		case p == 27:
			s.attrs &^= attrReverse
		case p == 28:
			s.attrs &^= attrHidden
		case p == 29:
			s.attrs &^= attrStrike
		case p >= 30 && p <= 37:
			s.fg = int32(p - 30)
		case p == 39:
			s.fg = -1
		case p >= 40 && p <= 47:
			s.bg = int32(p - 40)
		case p == 49:
			s.bg = -1
		case p >= 90 && p <= 97:
			s.fg = int32(p - 90 + 8)
		case p >= 100 && p <= 107:
			s.bg = int32(p - 100 + 8)
		case p == 38 || p == 48:
			c, used := extendedColour(params[i+1:])
			i += used
			if c != -2 {
				if p == 38 {
					s.fg = c
				} else {
					s.bg = c
				}
			}
		}
	}
	return s
}

// extendedColour reads "5;n" or "2;r;g;b" after a 38 or 48; -2 when
// malformed.
func extendedColour(p []int) (int32, int) {
	if len(p) >= 2 && p[0] == 5 {
		return int32(max(0, min(p[1], 255))), 2
	}
	if len(p) >= 4 && p[0] == 2 {
		c := func(v int) int32 { return int32(max(0, min(v, 255))) }
		return 1<<24 | c(p[1])<<16 | c(p[2])<<8 | c(p[3]), 4
	}
	return -2, len(p)
}

// sequence is the SGR escape that sets s from the default look.
func (s sgr) sequence() string {
	if s == defaultStyle {
		return "\x1b[m"
	}
	var b strings.Builder
	b.WriteString("\x1b[0")
	for i, code := range []string{"1", "2", "3", "4", "5", "7", "8", "9"} {
		if s.attrs&(1<<i) != 0 {
			b.WriteString(";" + code)
		}
	}
	colour(&b, s.fg, 30, 90, 38)
	colour(&b, s.bg, 40, 100, 48)
	b.WriteByte('m')
	return b.String()
}

func colour(b *strings.Builder, c int32, base, bright, ext int) {
	switch {
	case c < 0:
	case c < 8:
		b.WriteString(";" + strconv.Itoa(base+int(c)))
	case c < 16:
		b.WriteString(";" + strconv.Itoa(bright+int(c)-8))
	case c < 256:
		b.WriteString(";" + strconv.Itoa(ext) + ";5;" + strconv.Itoa(int(c)))
	default:
		b.WriteString(";" + strconv.Itoa(ext) + ";2;" + strconv.Itoa(int(c>>16&0xff)) + ";" + strconv.Itoa(int(c>>8&0xff)) + ";" + strconv.Itoa(int(c&0xff)))
	}
}
