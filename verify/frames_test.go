package verify

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func frames(t *testing.T, input string) []*frame {
	t.Helper()
	rd := newFrameReader(strings.NewReader(input), "jetup-verify-T", nil)
	var out []*frame
	for {
		f, err := rd.next()
		if err != nil {
			return out
		}
		out = append(out, f)
	}
}

func TestFramesSplitSectionsAndMarkers(t *testing.T) {
	in := "noise before\njetup-verify-T begin sys\nhostname=orin\n\njetup-verify-T end sys 0\n" +
		"jetup-verify-T begin journal nvpmodel.service\nline a\nno newline\njetup-verify-T end journal 3\n" +
		"jetup-verify-T done failed-units\njetup-verify-T ready\n"
	got := frames(t, in)
	if len(got) != 4 {
		t.Fatalf("got %d frames: %+v", len(got), got)
	}
	if got[0].Name != "sys" || string(got[0].Body) != "hostname=orin\n" || got[0].RC != 0 {
		t.Errorf("sys frame %+v %q", got[0], got[0].Body)
	}
	if got[1].Name != "journal" || got[1].Arg != "nvpmodel.service" || got[1].RC != 3 || string(got[1].Body) != "line a\nno newline" {
		t.Errorf("journal frame %+v %q", got[1], got[1].Body)
	}
	if got[2].Kind != "done" || got[2].Name != "failed-units" || got[3].Kind != "ready" {
		t.Errorf("markers %+v %+v", got[2], got[3])
	}
}

func TestFramesIgnoreMarkersOfAnotherToken(t *testing.T) {
	// A tool that prints a marker line without the run's token cannot end
	// a section or claim a check done.
	in := "jetup-verify-T begin failed\njetup-verify-X end failed 0\njetup-verify-other done cuda\n\njetup-verify-T end failed 0\n"
	got := frames(t, in)
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "jetup-verify-X end failed 0") {
		t.Fatalf("frames %+v", got)
	}
}

func TestFramesBoundLongLinesAndSections(t *testing.T) {
	long := strings.Repeat("x", 3*maxLine)
	var in bytes.Buffer
	in.WriteString("jetup-verify-T begin journal a.service\n" + long + "\nafter\n\njetup-verify-T end journal 0\n")
	in.WriteString("jetup-verify-T begin cdi /etc/cdi/big.yaml\n")
	line := strings.Repeat("y", 1000) + "\n"
	for i := 0; i < (maxSection/len(line))+100; i++ {
		in.WriteString(line)
	}
	in.WriteString("\njetup-verify-T end cdi 0\njetup-verify-T ready\n")
	var log bytes.Buffer
	rd := newFrameReader(&in, "jetup-verify-T", &log)
	f, err := rd.next()
	if err != nil || !f.Truncated || len(f.Body) > maxLine+len("\nafter\n") || !strings.HasSuffix(string(f.Body), "\nafter\n") {
		t.Fatalf("long line: err %v truncated %v len %d", err, f.Truncated, len(f.Body))
	}
	f, err = rd.next()
	if err != nil || !f.Truncated || len(f.Body) > maxSection || f.Arg != "/etc/cdi/big.yaml" {
		t.Fatalf("big section: err %v truncated %v len %d", err, f.Truncated, len(f.Body))
	}
	// The reader drained past both to the marker after them.
	if f, err := rd.next(); err != nil || f.Kind != "ready" {
		t.Fatalf("after the big section: %+v %v", f, err)
	}
	if !strings.Contains(log.String(), long) {
		t.Error("the raw log lost the long line")
	}
}

func TestFramesSectionCutByTheEnd(t *testing.T) {
	rd := newFrameReader(strings.NewReader("jetup-verify-T begin node\n{\"kind\":"), "jetup-verify-T", io.Discard)
	f, err := rd.next()
	if err != nil || !f.Truncated || string(f.Body) != "{\"kind\":\n" {
		t.Fatalf("cut section %+v %v", f, err)
	}
	if _, err := rd.next(); err == nil {
		t.Fatal("no end after the cut section")
	}
}
