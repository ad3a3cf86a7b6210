package nixrun

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Nix's --log-format internal-json, read tolerantly: every stderr line is
// either "@nix " and a JSON object, or plain text (argument errors before
// the logger starts, ssh's stderr, warnings). Unknown actions, activity
// and result types, missing fields and extra keys (parent from 2.18) are
// accepted and ignored, so a newer Nix never breaks progress; a line that
// is not well-formed JSON is a plain line. Shapes: research/push.md §2 and
// testdata/internal-json-2.8.log (captured from Nix 2.8.0 here).

// Activity types (libutil/logging.hh).
const (
	ActUnknown      = 0
	ActCopyPath     = 100 // fields [storePath, srcUri, dstUri]
	ActFileTransfer = 101 // fields [url]
	ActRealise      = 102
	ActCopyPaths    = 103
	ActBuilds       = 104
	ActBuild        = 105 // fields [drvPath, machine, curRound, nrRounds]
	ActSubstitute   = 108 // fields [storePath, substituterUri]
)

// Result types.
const (
	ResBuildLogLine     = 101 // fields [line]
	ResSetPhase         = 104 // fields [phase]
	ResProgress         = 105 // fields [done, expected, running, failed]
	ResSetExpected      = 106 // fields [activityType, expected]
	ResPostBuildLogLine = 107 // fields [line]
)

// Levels of msg and start.
const (
	LvlError  = 0
	LvlWarn   = 1
	LvlNotice = 2
	LvlInfo   = 3
)

// Line is one stderr line of a nix command.
type Line struct {
	// JSON is false for a plain text line (Raw holds it).
	JSON bool
	Raw  string
	// Cut is set when the line was longer than the reader's bound and
	// only its start is here.
	Cut    bool
	Action string            `json:"action"` // start, stop, result, msg, setPhase
	ID     uint64            `json:"id"`
	Type   int               `json:"type"`
	Level  int               `json:"level"`
	Text   string            `json:"text"`
	Msg    string            `json:"msg"`
	Fields []json.RawMessage `json:"fields"`
}

var prefix = []byte("@nix ")

// ParseLine reads one line; it never fails: anything that is not a
// well-formed "@nix {...}" object is a plain line.
func ParseLine(line []byte) Line {
	line = bytes.TrimRight(line, "\r\n")
	body, ok := bytes.CutPrefix(line, prefix)
	if ok {
		var l Line
		if json.Unmarshal(body, &l) == nil {
			l.JSON, l.Raw = true, string(line)
			return l
		}
	}
	return Line{Raw: string(line)}
}

// Str is field i as a string, "" when absent or not a string.
func (l Line) Str(i int) string {
	if i >= len(l.Fields) {
		return ""
	}
	var s string
	if json.Unmarshal(l.Fields[i], &s) != nil {
		return ""
	}
	return s
}

// Int is field i as an integer, 0 when absent or not a number.
func (l Line) Int(i int) int64 {
	if i >= len(l.Fields) {
		return 0
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(l.Fields[i])), 10, 64)
	if err != nil {
		var f float64
		if json.Unmarshal(l.Fields[i], &f) == nil {
			return int64(f)
		}
		return 0
	}
	return n
}

// Message is the human text of the line without escape codes: a msg's
// text, a start's text, a build log line, or the plain line.
func (l Line) Message() string {
	switch {
	case !l.JSON:
		return Clean(l.Raw)
	case l.Action == "msg":
		return Clean(l.Msg)
	case l.Action == "result" && (l.Type == ResBuildLogLine || l.Type == ResPostBuildLogLine):
		return Clean(l.Str(0))
	default:
		return Clean(l.Text)
	}
}

// IsError is a msg at level error, or a plain line that reads like one.
func (l Line) IsError() bool {
	if l.JSON {
		return l.Action == "msg" && l.Level == LvlError && !strings.HasPrefix(l.Message(), "warning:")
	}
	m := strings.TrimSpace(l.Message())
	return m != "" && !strings.HasPrefix(m, "warning:")
}

// Human is what `nix build -L` would print for this line on a terminal,
// and false for lines it would not print: messages, activities worth
// naming (building ..., copying path ...), the builders' own output, and
// plain lines.
func (l Line) Human() (string, bool) {
	if !l.JSON {
		return l.Message(), true
	}
	switch l.Action {
	case "msg":
		return l.Message(), true
	case "start":
		if l.Text != "" && l.Level <= LvlInfo {
			return l.Message(), true
		}
	case "result":
		if l.Type == ResBuildLogLine || l.Type == ResPostBuildLogLine {
			return l.Message(), true
		}
	}
	return "", false
}

var quotedPath = regexp.MustCompile(`'(/[^']+)'`)

// CopyPathOf is the store path an ActCopyPath start is about: its first
// field, or the first quoted path of its text on a Nix that sent none.
func CopyPathOf(l Line) string {
	if p := l.Str(0); p != "" {
		return p
	}
	if m := quotedPath.FindStringSubmatch(l.Text); m != nil {
		return m[1]
	}
	return ""
}

// Clean drops terminal escape sequences (CSI, OSC, and other ESC
// sequences) and control characters other than tab and newline from
// text nix or a builder printed, and replaces invalid UTF-8: what is left
// can be shown to a person without reaching their terminal's controls.
func Clean(s string) string {
	if !needsClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0x1b:
			i = skipEscape(s, i)
			continue
		case c < 0x20 && c != '\t' && c != '\n', c == 0x7f:
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			b.WriteRune(utf8.RuneError)
			i++
			continue
		}
		if r >= 0x80 && r < 0xa0 { // C1 controls
			i += size
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}

func needsClean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' || c >= 0x7f {
			return true
		}
	}
	return false
}

// skipEscape returns the index after the escape sequence at s[i] (ESC).
func skipEscape(s string, i int) int {
	i++
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[': // CSI: parameters and intermediates, then a final byte 0x40-0x7e
		for i++; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return i
	case ']', 'P', 'X', '^', '_': // OSC, DCS, SOS, PM, APC: up to BEL or ESC \
		for i++; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return i
	}
	// Other escapes: intermediates 0x20-0x2f, then one final byte.
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) {
		i++
	}
	return i
}
