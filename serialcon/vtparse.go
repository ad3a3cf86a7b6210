package serialcon

import "unicode/utf8"

// vtHandler receives what vtParser decodes from a board's output. Both the
// line cooker (logs, stage recogniser) and the screen model (TUI) implement
// it, so the two agree on what an escape sequence is.
type vtHandler interface {
	// text is a run of printable ASCII (0x20-0x7e); the slice is only valid
	// during the call.
	text(b []byte)
	// char is one printable non-ASCII character.
	char(r rune)
	// control is a C0 control byte (\r, \n, \b, \t, \a, ...).
	control(c byte)
	// csi is a control sequence: ESC [ priv params final. Missing
	// parameters are -1.
	csi(final, priv byte, params []int)
	// esc is a two- or three-byte escape: ESC inter final.
	esc(final, inter byte)
}

type vtState uint8

const (
	stGround vtState = iota
	stEsc
	stCSI
	stString    // OSC, DCS, APC, PM, SOS: swallowed up to BEL or ST
	stStringEsc // ESC seen inside a string: "\\" ends it
)

const maxParams = 16

// vtParser is a small ECMA-48 state machine written for serial consoles:
// it never blocks on a half sequence across reads, never grows without
// bound (strings are dropped, not collected), and decodes UTF-8 with a CP437
// fallback for the raw high bytes EDK2 prints in PC-ANSI mode. A hand-written
// parser, rather than x/ansi's, because that one folds invalid UTF-8 into the
// next characters and treats 0x80-0x9f as C1 controls, which eats text when
// firmware prints CP437 box drawing.
type vtParser struct {
	h      vtHandler
	state  vtState
	priv   byte
	inter  byte
	params [maxParams]int
	np     int
	// utf holds the first bytes of a multi-byte character split across
	// two reads.
	utf  [utf8.UTFMax]byte
	nutf int
}

func newVTParser(h vtHandler) *vtParser { return &vtParser{h: h} }

// feed parses p. It may be called with any split of the stream.
func (v *vtParser) feed(p []byte) {
	for i := 0; i < len(p); {
		b := p[i]
		if v.state == stGround && v.nutf == 0 && b >= 0x20 && b < 0x7f {
			j := i + 1
			for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f {
				j++
			}
			v.h.text(p[i:j])
			i = j
			continue
		}
		if v.state == stGround && (v.nutf > 0 || b >= 0x80) {
			i += v.feedUTF8(p[i:])
			continue
		}
		v.step(b)
		i++
	}
}

// feedUTF8 decodes one character starting at p[0] (possibly completing one
// started in an earlier read) and returns how many bytes of p it used.
func (v *vtParser) feedUTF8(p []byte) int {
	if v.nutf == 0 {
		if utf8.FullRune(p) {
			r, n := utf8.DecodeRune(p)
			if r == utf8.RuneError && n <= 1 {
				v.h.char(cp437(p[0]))
				return 1
			}
			v.printRune(r)
			return n
		}
		// A valid start of a character that the read cut short.
		v.nutf = copy(v.utf[:], p)
		return len(p)
	}
	// Complete the pending character with as many bytes as it needs.
	used := 0
	for v.nutf < utf8.UTFMax && used < len(p) && !utf8.FullRune(v.utf[:v.nutf]) {
		v.utf[v.nutf] = p[used]
		v.nutf++
		used++
	}
	if !utf8.FullRune(v.utf[:v.nutf]) {
		return used
	}
	buf := v.utf[:v.nutf]
	v.nutf = 0
	r, n := utf8.DecodeRune(buf)
	if r == utf8.RuneError && n <= 1 {
		// Not UTF-8 after all: the first byte is CP437, the rest goes back
		// through the parser.
		v.h.char(cp437(buf[0]))
		rest := append([]byte(nil), buf[1:]...)
		v.feed(rest)
		return used
	}
	v.printRune(r)
	// Bytes beyond the character that were pulled from p are re-read.
	return used - (len(buf) - n)
}

func (v *vtParser) printRune(r rune) {
	if r >= 0x80 && r < 0xa0 {
		return // C1 controls encoded as UTF-8: nothing to print
	}
	v.h.char(r)
}

func (v *vtParser) step(b byte) {
	// CAN and SUB abort any sequence; ESC starts a new one.
	switch {
	case b == 0x18 || b == 0x1a:
		v.state = stGround
		return
	case b == 0x1b && v.state != stString:
		v.state, v.inter = stEsc, 0
		return
	}
	switch v.state {
	case stGround:
		if b < 0x20 || b == 0x7f {
			v.h.control(b)
		}
	case stEsc:
		switch {
		case b == '[':
			v.state, v.priv, v.np, v.inter = stCSI, 0, 0, 0
			v.params[0] = -1
		case b == ']' || b == 'P' || b == '_' || b == '^' || b == 'X':
			v.state = stString
		case b >= 0x20 && b < 0x30:
			v.inter = b
		case b >= 0x30 && b < 0x7f:
			v.state = stGround
			v.h.esc(b, v.inter)
		case b < 0x20:
			v.h.control(b)
		}
	case stCSI:
		v.stepCSI(b)
	case stString:
		switch b {
		case 0x07:
			v.state = stGround
		case 0x1b:
			v.state = stStringEsc
		}
	case stStringEsc:
		if b == '\\' {
			v.state = stGround
			return
		}
		v.state = stEsc
		v.step(b)
	}
}

func (v *vtParser) stepCSI(b byte) {
	switch {
	case b >= '0' && b <= '9':
		if v.np < maxParams {
			p := &v.params[v.np]
			if *p < 0 {
				*p = 0
			}
			if *p < 65535 {
				*p = *p*10 + int(b-'0')
			}
		}
	case b == ';' || b == ':':
		if v.np < maxParams-1 {
			v.np++
			v.params[v.np] = -1
		}
	case b >= '<' && b <= '?':
		v.priv = b
	case b >= 0x20 && b < 0x30:
		v.inter = b
	case b >= 0x40 && b < 0x7f:
		v.state = stGround
		if v.inter == 0 {
			v.h.csi(b, v.priv, v.params[:v.np+1])
		}
	case b < 0x20:
		v.h.control(b) // C0 inside a CSI is executed (VT100 behaviour)
	default:
		v.state = stGround
	}
}

// param returns params[i], or def when it is missing or zero (the ECMA-48
// default rule for counts and positions).
func param(params []int, i, def int) int {
	if i >= len(params) || params[i] <= 0 {
		return def
	}
	return params[i]
}

// cp437 maps a byte that is not UTF-8 to the character code page 437 gives
// it: EDK2 in PC-ANSI mode draws its boxes and arrows with these.
func cp437(b byte) rune {
	if b < 0x80 {
		return rune(b)
	}
	return cp437High[b-0x80]
}

var cp437High = [128]rune([]rune(
	"ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»" +
		"░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" +
		"αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0"))
