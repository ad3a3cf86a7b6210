package deploy

import (
	"bytes"
	"strings"
	"testing"
)

// A board's line longer than any buffer before the verdict: the verdict
// is still read, and the long line is in the log, cut.
func TestConfirmVerdictAfterAVeryLongLine(t *testing.T) {
	out := strings.Repeat("x", 200<<10) + "\nwaiting\njetup:confirm_state=confirmed\n"
	var log bytes.Buffer
	st, ok := readConfirmState(strings.NewReader(out), &log)
	if !ok || st != "confirmed" {
		t.Fatalf("verdict %q %v after a 200 KiB line", st, ok)
	}
	if !strings.Contains(log.String(), "board: waiting\n") || log.Len() > 100<<10 {
		t.Errorf("the log holds %d bytes: %.80q", log.Len(), log.String())
	}
}
