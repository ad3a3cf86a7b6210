package deploy

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// Nix's --log-format internal-json, read tolerantly: every line is either
// "@nix " and a JSON object, or plain text (ssh's stderr, warnings). Unknown
// actions, activity and result types, missing fields and extra keys are
// accepted and ignored, so a newer Nix never breaks the progress display.

// Activity and result types jetup uses (libutil/logging.hh).
const (
	actCopyPath  = 100
	actCopyPaths = 103
	actBuilds    = 104
	actBuild     = 105
	actSubst     = 108
	resProgress  = 105
	resSetExpect = 106
)

// NixLine is one stderr line of a nix command.
type NixLine struct {
	// JSON is false for a plain text line (Raw holds it).
	JSON   bool
	Raw    string
	Action string            `json:"action"` // start, stop, result, msg, setPhase
	ID     uint64            `json:"id"`
	Type   int               `json:"type"`
	Level  int               `json:"level"`
	Text   string            `json:"text"`
	Msg    string            `json:"msg"`
	Fields []json.RawMessage `json:"fields"`
}

// ParseNixLine reads one line; it never fails: anything that is not a
// well-formed "@nix {...}" object is a plain line.
func ParseNixLine(line string) NixLine {
	line = strings.TrimRight(line, "\r\n")
	l := NixLine{Raw: line}
	body, ok := strings.CutPrefix(line, "@nix ")
	if !ok {
		return l
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		return NixLine{Raw: line}
	}
	l.JSON = true
	return l
}

// Str is field i as a string, "" when absent or not a string.
func (l NixLine) Str(i int) string {
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
func (l NixLine) Int(i int) int64 {
	if i >= len(l.Fields) {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(l.Fields[i])), 10, 64)
	if err != nil {
		var f float64
		if json.Unmarshal(l.Fields[i], &f) == nil {
			return int64(f)
		}
		return 0
	}
	return n
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// Message is the human text of the line: a msg's text without colour
// codes, a start's text, or the plain line.
func (l NixLine) Message() string {
	switch {
	case !l.JSON:
		return ansi.ReplaceAllString(l.Raw, "")
	case l.Action == "msg":
		return ansi.ReplaceAllString(l.Msg, "")
	default:
		return l.Text
	}
}

// IsError is a msg at level error, or a plain line that reads like one.
func (l NixLine) IsError() bool {
	if l.JSON {
		return l.Action == "msg" && l.Level == 0 && !strings.HasPrefix(l.Message(), "warning:")
	}
	m := strings.TrimSpace(l.Message())
	return m != "" && !strings.HasPrefix(m, "warning:")
}

var quotedPath = regexp.MustCompile(`'(/[^']+)'`)

// copyPathOf is the store path an actCopyPath start is about: its first
// field, or the first quoted path of its text on a Nix that sent none.
func copyPathOf(l NixLine) string {
	if p := l.Str(0); p != "" {
		return p
	}
	if m := quotedPath.FindStringSubmatch(l.Text); m != nil {
		return m[1]
	}
	return ""
}
