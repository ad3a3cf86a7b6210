package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/serialcon"
)

// boardKeys are the bytes a VT220/xterm terminal sends for special keys:
// what EDK2's TTY terminal type, a Linux getty and a shell understand.
var boardKeys = map[rune]string{
	tea.KeyEnter: "\r", tea.KeyKpEnter: "\r", tea.KeyTab: "\t", tea.KeyBackspace: "\x7f",
	tea.KeyEscape: serialcon.KeyEsc, tea.KeySpace: " ",
	tea.KeyUp: "\x1b[A", tea.KeyDown: "\x1b[B", tea.KeyRight: "\x1b[C", tea.KeyLeft: "\x1b[D",
	tea.KeyHome: "\x1b[H", tea.KeyEnd: "\x1b[F", tea.KeyInsert: "\x1b[2~", tea.KeyDelete: "\x1b[3~",
	tea.KeyPgUp: "\x1b[5~", tea.KeyPgDown: "\x1b[6~",
	tea.KeyF1: "\x1bOP", tea.KeyF2: "\x1bOQ", tea.KeyF3: "\x1bOR", tea.KeyF4: "\x1bOS",
	tea.KeyF5: "\x1b[15~", tea.KeyF6: "\x1b[17~", tea.KeyF7: "\x1b[18~", tea.KeyF8: "\x1b[19~",
	tea.KeyF9: "\x1b[20~", tea.KeyF10: "\x1b[21~", tea.KeyF11: serialcon.KeyF11, tea.KeyF12: "\x1b[24~",
}

// keyBytes is what a key press in focus mode sends to the board; nil for a
// key with no meaning on a serial line.
func keyBytes(k tea.KeyPressMsg) []byte {
	if k.Mod.Contains(tea.ModCtrl) {
		switch c := k.Code; {
		case c >= 'a' && c <= 'z':
			return []byte{byte(c - 'a' + 1)}
		case c == '@' || c == ' ':
			return []byte{0}
		case c == '[':
			return []byte{0x1b}
		case c == '\\':
			return []byte{0x1c}
		case c == '^':
			return []byte{0x1e}
		case c == '_':
			return []byte{0x1f}
		}
		return nil
	}
	prefix := ""
	if k.Mod.Contains(tea.ModAlt) {
		prefix = "\x1b"
	}
	if s, ok := boardKeys[k.Code]; ok {
		return []byte(prefix + s)
	}
	if k.Text != "" {
		return []byte(prefix + k.Text)
	}
	if k.Code >= 0x20 && k.Code < 0x7f {
		return []byte(prefix + string(k.Code))
	}
	return nil
}
