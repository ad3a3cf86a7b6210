package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestPrinterTextAndJSON(t *testing.T) {
	var text, js bytes.Buffer
	sink := Tee(NewPrinter(&text, false), NewPrinter(&js, true))
	sink.Emit(Warning{Warning: "board at full speed", Next: "use a direct port"})
	sink.Emit(Progress{Phase: "write", Done: 3, Total: 12, Unit: "steps"})
	if got := text.String(); got != "warning: board at full speed (use a direct port)\nwrite: 3/12 steps\n" {
		t.Errorf("text %q", got)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"warning":"board at full speed"`) || !strings.Contains(lines[1], `"total":12`) {
		t.Errorf("json %q", js.String())
	}
}

func TestPrinterLinesNeverInterleave(t *testing.T) {
	var buf bytes.Buffer
	p := NewPrinter(&buf, true)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				p.Emit(Log{Line: strings.Repeat("x", 100)})
			}
		}()
	}
	wg.Wait()
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.HasPrefix(l, `{"at":`) || !strings.HasSuffix(l, `"}`) {
			t.Fatalf("broken line %q", l)
		}
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{Refuse("c", "n", "refused"), 2},
		{fmt.Errorf("wrapped: %w", &Error{Code: 3, What: "timed out"}), 3},
		{context.Canceled, 1},
	}
	for _, c := range cases {
		if got := ExitCodeOf(c.err); got != c.code {
			t.Errorf("ExitCodeOf(%v) = %d, want %d", c.err, got, c.code)
		}
	}
	if NextOf(fmt.Errorf("x: %w", Errorf("c", "do this", "m"))) != "do this" {
		t.Error("next step lost through wrapping")
	}
}

func TestProgressFraction(t *testing.T) {
	if f := (Progress{Done: 5, Total: 10}).Fraction(); f != 0.5 {
		t.Errorf("fraction %v", f)
	}
	if f := (Progress{Done: 5}).Fraction(); f != -1 {
		t.Errorf("unknown total gives %v", f)
	}
	if f := (Progress{Done: 11, Total: 10}).Fraction(); f != 1 {
		t.Errorf("overshoot gives %v", f)
	}
}
