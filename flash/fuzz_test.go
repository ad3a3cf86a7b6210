package flash

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/jetup/jetup/assets"
)

// FuzzClassify: any bytes give a sensible verdict, never a panic, and the
// verdict does not depend on how the log is cut into writes. The corpus is
// kept in testdata/fuzz/FuzzClassify; run more with
// `go test ./flash -run '^$' -fuzz FuzzClassify -fuzztime 60s`.
func FuzzClassify(f *testing.F) {
	fsys := assets.Transcripts()
	names, _ := fs.Glob(fsys, "flash/*.txt")
	for _, n := range names {
		b, _ := fs.ReadFile(fsys, n)
		f.Add(b, uint16(len(b)/2))
	}
	for _, c := range causeLogs {
		f.Add([]byte(c.log), uint16(7))
	}
	f.Add([]byte("\x1b[31mStep 1/2... \r\nFlashing platform firmware successful\x1b"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		whole := NewClassifier()
		_, _ = whole.Write(data)
		whole.Close()
		v := whole.Verdict()
		checkVerdict(t, v, data)

		k := int(cut) % (len(data) + 1)
		split := NewClassifier()
		_, _ = split.Write(data[:k])
		_, _ = split.Write(data[k:])
		split.Close()
		w := split.Verdict()
		if v.Outcome != w.Outcome || v.Cause != w.Cause || v.Stage != w.Stage || v.Lines != w.Lines || len(v.Evidence) != len(w.Evidence) {
			t.Fatalf("cut at %d changes the verdict:\nwhole %+v\nsplit %+v", k, v, w)
		}
		checkVerdict(t, whole.Finish(Exit{End: EndExited, Code: int(cut) % 3}), data)
	})
}

func checkVerdict(t *testing.T, v Verdict, data []byte) {
	t.Helper()
	switch v.Outcome {
	case Success:
		if v.Cause != "" || v.Stage != StageSuccess {
			t.Fatalf("success with cause %q at %q", v.Cause, v.Stage)
		}
	case Failed, Incomplete:
		if !v.Cause.Known() || v.Hint == "" {
			t.Fatalf("%s with cause %q hint %q", v.Outcome, v.Cause, v.Hint)
		}
	default:
		t.Fatalf("outcome %q", v.Outcome)
	}
	if v.Stage != StageNone && v.Stage.Index() == 0 {
		t.Fatalf("stage %q", v.Stage)
	}
	maxLineNo := bytes.Count(data, []byte("\n")) + 1
	for _, e := range v.Evidence {
		if e.Line < 1 || e.Line > maxLineNo {
			t.Fatalf("evidence line %d of %d", e.Line, maxLineNo)
		}
		if strings.ToValidUTF8(e.Text, "") != e.Text || strings.ContainsAny(e.Text, "\x00\x1b\r\n") || len(e.Text) > evidenceLen+3 {
			t.Fatalf("evidence text %q", e.Text)
		}
	}
}
