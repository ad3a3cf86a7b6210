package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

type gotLine struct {
	s   string
	cut bool
}

func collectLines(max int, writes ...string) []gotLine {
	var got []gotLine
	w := NewBoundedLineWriter(max, func(l []byte, cut bool) { got = append(got, gotLine{string(l), cut}) })
	for _, s := range writes {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			panic("short write")
		}
	}
	w.Flush()
	return got
}

func TestLineWriterCutsLongLinesAndKeepsGoing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   []gotLine
	}{
		{"lines", []string{"a\nbb\r\n", "c"}, []gotLine{{"a", false}, {"bb", false}, {"c", false}}},
		{"split writes", []string{"ab", "c\nd", "e\n"}, []gotLine{{"abc", false}, {"de", false}}},
		{"exactly max", []string{"12345678\nx\n"}, []gotLine{{"12345678", false}, {"x", false}}},
		{"one over", []string{"123456789\nx\n"}, []gotLine{{"12345678", true}, {"x", false}}},
		{"long over writes", []string{"1234", "5678", "9abc", "def\n", "after\n"},
			[]gotLine{{"12345678", true}, {"after", false}}},
		{"long without end", []string{strings.Repeat("z", 30)}, []gotLine{{"zzzzzzzz", true}}},
		{"empty lines", []string{"\n\n"}, []gotLine{{"", false}, {"", false}}},
	} {
		got := collectLines(8, tc.writes...)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %+v", tc.name, got)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: line %d = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

// A child printing a line far longer than the bound, then more: every
// later line arrives and the child ends (it would block on a full pipe if
// the reader stopped).
func TestReadLinesDrainsAChildPastAHugeLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := Host{}.Command(ctx, "sh", "-c", "head -c 8388608 /dev/zero | tr '\\0' x; echo; echo done; echo tail")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []gotLine
	rerr := ReadLines(out, 1<<20, func(l []byte, cut bool) { lines = append(lines, gotLine{string(l[:min(len(l), 4)]), cut}) })
	if werr := cmd.Wait(); werr != nil || rerr != nil || ctx.Err() != nil {
		t.Fatalf("wait %v read %v ctx %v (waited on the child for 60 s)", werr, rerr, ctx.Err())
	}
	want := []gotLine{{"xxxx", true}, {"done", false}, {"tail", false}}
	if len(lines) != 3 || lines[0] != want[0] || lines[1] != want[1] || lines[2] != want[2] {
		t.Errorf("%+v", lines)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		f.n++
		return copy(p, "part"), nil
	}
	return 0, errors.New("device gone")
}

func TestReadLinesReportsItsError(t *testing.T) {
	var got []string
	err := ReadLines(&failingReader{}, 0, func(l []byte, _ bool) { got = append(got, string(l)) })
	if err == nil || err.Error() != "device gone" || len(got) != 1 || got[0] != "part" {
		t.Errorf("%v %q", err, got)
	}
	if err := ReadLines(strings.NewReader("a\nb"), 0, func([]byte, bool) {}); err != nil {
		t.Errorf("EOF is the end, not an error: %v", err)
	}
}

func TestCappedBufferKeepsTheStartAndDrains(t *testing.T) {
	c := &CappedBuffer{Max: 5}
	n, err := io.Copy(c, bytes.NewReader([]byte("0123456789")))
	if n != 10 || err != nil || string(c.Bytes()) != "01234" || !c.Full() || c.Dropped != 5 {
		t.Errorf("%d %v %q %d", n, err, c.Bytes(), c.Dropped)
	}
}

// The string form the ssh and copy readers use: the same cutting.
func TestNewLineWriterStrings(t *testing.T) {
	var got []string
	w := NewLineWriter(func(l string) { got = append(got, l) })
	_, _ = w.Write([]byte("a\r\n" + strings.Repeat("y", MaxLine+10) + "\nb"))
	w.Flush()
	if len(got) != 3 || got[0] != "a" || len(got[1]) != MaxLine || got[2] != "b" {
		t.Errorf("%d lines", len(got))
	}
}

func TestLineScannerCutsAndGoesOn(t *testing.T) {
	in := "short\r\n" + strings.Repeat("L", 200_000) + "\n" + "12345678\n" + "123456789\n" + "last"
	s := NewLineScanner(strings.NewReader(in), 8)
	var got []gotLine
	for s.Scan() {
		got = append(got, gotLine{s.Text(), s.Cut()})
	}
	want := []gotLine{{"short", false}, {"LLLLLLLL", true}, {"12345678", false}, {"12345678", true}, {"last", false}}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if s.Err() != nil || s.Scan() {
		t.Errorf("after the end: %v", s.Err())
	}
	s = NewLineScanner(&failingReader{}, 0)
	if !s.Scan() || s.Text() != "part" || s.Scan() || s.Err() == nil || s.Err().Error() != "device gone" {
		t.Errorf("a read error: %q %v", s.Text(), s.Err())
	}
}

// What a bufio.Reader buffered after the lines read stays in it, for the
// next reader of the same stream.
func TestLineScannerLeavesTheRestInABufioReader(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("marker\nrest of the stream\n"), 64<<10)
	s := NewLineScanner(br, 100)
	if !s.Scan() || s.Text() != "marker" {
		t.Fatal(s.Text())
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "rest of the stream\n" {
		t.Errorf("rest %q", rest)
	}
}

// Any bytes in any pieces: lines never longer than the bound, one line per
// newline (plus a last unterminated one), and with a bound larger than
// the input the lines give the input back.
func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("a\nbb\r\nccc"), uint8(3))
	f.Add([]byte(strings.Repeat("x", 100)+"\n\n"), uint8(7))
	f.Fuzz(func(t *testing.T, in []byte, piece uint8) {
		step := int(piece%16) + 1
		for _, max := range []int{8, len(in) + 1} {
			var lines []string
			w := NewBoundedLineWriter(max, func(l []byte, cut bool) {
				if len(l) > max || cut && len(l) != max {
					t.Fatalf("line of %d bytes (cut %v) with bound %d", len(l), cut, max)
				}
				lines = append(lines, string(l))
			})
			for i := 0; i < len(in); i += step {
				_, _ = w.Write(in[min(i, len(in)):min(i+step, len(in))])
			}
			w.Flush()
			want := bytes.Count(in, []byte("\n"))
			if len(in) > 0 && in[len(in)-1] != '\n' {
				want++
			}
			if len(lines) > want {
				t.Fatalf("%d lines from %d newlines", len(lines), want)
			}
			if max > len(in) {
				got := strings.Join(lines, "\n")
				exp := strings.TrimSuffix(strings.ReplaceAll(string(in), "\r\n", "\n"), "\n")
				if len(lines) != want || got != exp && !strings.Contains(string(in), "\r") {
					t.Fatalf("lines %q from %q", lines, in)
				}
			}
		}
	})
}
