package remote

import "strings"

// AnswerPrefix starts every line a board shell of jetup's prints for jetup
// itself ("jetup:key=value"); other lines are the board's own (a login
// banner, a chatty bashrc, a command's output).
const AnswerPrefix = "jetup:"

// Answer reads one board-shell line: the key and value of a "jetup:key=value"
// line, the value "" when it has no "=" ("jetup:rebooting"). ok is false for
// any other line. The caller bounds the line (proc.LineScanner).
func Answer(line string) (key, val string, ok bool) {
	kv, ok := strings.CutPrefix(line, AnswerPrefix)
	if !ok {
		return "", "", false
	}
	key, val, _ = strings.Cut(kv, "=")
	return key, val, true
}
