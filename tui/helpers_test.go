package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/step"
)

// Table tests for the pure helpers the screens draw and decide with.

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"one too long", 11, "one too lo…"},
		{"ünïcödé wörds", 8, "ünïcödé…"}, // runes, not bytes
		{"anything", 1, "anything"},      // no room for a mark: left alone
		{"", 5, ""},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestWrapIndent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		width  int
		indent string
		want   string
	}{
		{"a few words", 40, "", "a few words"},
		{"the quick brown fox jumps over the lazy dog", 24, "", "the quick brown fox\njumps over the lazy dog"},
		{"the quick brown fox jumps over the lazy dog", 26, "  ", "  the quick brown fox\n  jumps over the lazy dog"},
		// Never narrower than 20 columns of text, however small the width.
		{"the quick brown fox jumps over", 5, "", "the quick brown fox\njumps over"},
		{"  spaces   collapse  ", 40, "", "spaces collapse"},
		{"", 40, "  ", ""},
	} {
		if got := wrapIndent(tc.in, tc.width, tc.indent); got != tc.want {
			t.Errorf("wrapIndent(%q, %d, %q) =\n%q, want\n%q", tc.in, tc.width, tc.indent, got, tc.want)
		}
	}
}

func TestHangingIndentsUnderTheFirstLine(t *testing.T) {
	t.Parallel()
	got := hanging("1. ", "power the board off and hold the recovery button down", 24)
	want := "1. power the board off\n   and hold the recovery\n   button down"
	if got != want {
		t.Errorf("hanging =\n%s\nwant\n%s", got, want)
	}
}

func TestFitLinesSaysWhatIsLeftOut(t *testing.T) {
	t.Parallel()
	five := "1\n2\n3\n4\n5"
	for _, tc := range []struct {
		n    int
		want string
	}{
		{5, five},
		{9, five},
		{3, "1\n2\n… 3 more lines: a taller window shows them"},
		{2, "1\n… 4 more lines: a taller window shows them"},
	} {
		if got := fitLines(five, tc.n); got != tc.want {
			t.Errorf("fitLines(5 lines, %d) =\n%s\nwant\n%s", tc.n, got, tc.want)
		}
	}
	if n := lineCount("a\nb", "c", ""); n != 4 {
		t.Errorf("lineCount = %d, want 4", n)
	}
}

func TestFitCutsStyledTextByColumns(t *testing.T) {
	t.Parallel()
	styled := "\x1b[1mbold\x1b[0m and plain"
	if got := fit(styled, 8); ansi.Strip(got) != "bold an…" || ansi.StringWidth(got) != 8 {
		t.Errorf("fit = %q (%q)", got, ansi.Strip(got))
	}
	if got := fit(styled, 40); got != styled {
		t.Errorf("fit cut text that fits: %q", got)
	}
}

// pickCursor keeps the chosen disk across a hotplug refresh and otherwise
// starts on the first disk that may be written.
func TestPickCursor(t *testing.T) {
	t.Parallel()
	disk := func(names ...string) []media.Disk {
		var ds []media.Disk
		for _, n := range names {
			ds = append(ds, media.Disk{Name: n})
		}
		return ds
	}
	system := []media.Reason{{Cause: "system-disk"}}
	mounted := []media.Reason{{Cause: "mounted", Consent: true}}
	for _, tc := range []struct {
		name    string
		old     []media.Disk
		cur     int
		ds      []media.Disk
		reasons [][]media.Reason
		want    int
	}{
		{"first writable", nil, 0, disk("nvme0n1", "sda"), [][]media.Reason{system, nil}, 1},
		{"mounted may be written", nil, 0, disk("nvme0n1", "sda"), [][]media.Reason{system, mounted}, 1},
		{"none writable", nil, 0, disk("nvme0n1"), [][]media.Reason{system}, 0},
		{"kept across a refresh", disk("nvme0n1", "sda", "sdb"), 2, disk("nvme0n1", "sdb", "sda"), [][]media.Reason{system, nil, nil}, 1},
		{"chosen disk gone", disk("nvme0n1", "sda"), 1, disk("nvme0n1", "sdb"), [][]media.Reason{system, nil}, 1},
		{"cursor past the old list", disk("sda"), 3, disk("nvme0n1", "sda"), [][]media.Reason{system, nil}, 1},
		{"empty", disk("sda"), 0, nil, nil, 0},
	} {
		if got := pickCursor(tc.old, tc.cur, tc.ds, tc.reasons); got != tc.want {
			t.Errorf("%s: cursor %d, want %d", tc.name, got, tc.want)
		}
	}
}

// The rate graph: one column a second scaled to the peak, the image's row
// only while writing, and what held the write back.
func TestRateGraph(t *testing.T) {
	t.Parallel()
	const mb = 1 << 20
	w := &writeScreen{st: DefaultStyles(), w: 60}
	if got := w.graph(); got != "" {
		t.Errorf("a graph before any sample: %q", got)
	}
	for _, tc := range []struct {
		name    string
		samples []media.RateSample
		want    []string
	}{
		{"device bound", []media.RateSample{
			{Phase: media.PhaseWrite, Device: 8 * mb, Source: 16 * mb, Bottleneck: media.BottleneckDevice},
			{Phase: media.PhaseWrite, Device: 16 * mb, Source: 16 * mb, Bottleneck: media.BottleneckDevice},
		}, []string{"device ▄█", "image  ██", "peak 16.0 MiB/s · the device is the bottleneck"}},
		{"decompression bound", []media.RateSample{
			{Phase: media.PhaseWrite, Device: 4 * mb, Source: 0},
			{Phase: media.PhaseWrite, Device: 8 * mb, Source: 8 * mb, Bottleneck: media.BottleneckSource},
		}, []string{"device ▄█", "image   █", "· decompression is the bottleneck"}},
		{"verify reads back, no image row", []media.RateSample{
			{Phase: media.PhaseWrite, Device: 8 * mb, Source: 8 * mb},
			{Phase: media.PhaseVerify, Device: 32 * mb},
		}, []string{"device ▂█", "· reading back"}},
		{"balanced", []media.RateSample{{Phase: media.PhaseWrite, Device: 8 * mb, Source: 8 * mb}}, []string{"device █", "· balanced"}},
	} {
		w.samples = tc.samples
		got := ansi.Strip(w.graph())
		for _, want := range tc.want {
			if !strings.Contains(got, want) {
				t.Errorf("%s: graph lacks %q:\n%s", tc.name, want, got)
			}
		}
		if tc.samples[len(tc.samples)-1].Phase != media.PhaseWrite && strings.Contains(got, "image") {
			t.Errorf("%s: an image row outside the write:\n%s", tc.name, got)
		}
	}
	// Only the last width-14 seconds fit.
	w.samples = nil
	for i := 0; i < 100; i++ {
		w.samples = append(w.samples, media.RateSample{Phase: media.PhaseVerify, Device: float64(i+1) * mb})
	}
	dev := strings.SplitN(ansi.Strip(w.graph()), "\n", 2)[0]
	if n := len([]rune(strings.TrimPrefix(dev, "device "))); n != 60-14 {
		t.Errorf("the graph is %d columns, want %d", n, 60-14)
	}
	// A narrow window cuts the label, never the graph into two lines.
	w.w = 30
	if got := ansi.Strip(w.graph()); strings.Count(got, "\n") != 2 || !strings.Contains(got, "…") {
		t.Errorf("at 30 columns:\n%s", got)
	}
}

// keyBytes: what a key in focus mode sends down the serial line.
func TestKeyBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k    tea.KeyPressMsg
		want string
	}{
		{tea.KeyPressMsg{Code: 'a', Text: "a"}, "a"},
		{tea.KeyPressMsg{Code: 'q', Text: "q"}, "q"},
		{tea.KeyPressMsg{Code: tea.KeyEnter}, "\r"},
		{tea.KeyPressMsg{Code: tea.KeyBackspace}, "\x7f"},
		{tea.KeyPressMsg{Code: tea.KeyEscape}, "\x1b"},
		{tea.KeyPressMsg{Code: tea.KeyUp}, "\x1b[A"},
		{tea.KeyPressMsg{Code: tea.KeyF2}, "\x1bOQ"},
		{tea.KeyPressMsg{Code: tea.KeyF11}, "\x1b[23~"},
		{tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}, "\x03"},
		{tea.KeyPressMsg{Code: '[', Mod: tea.ModCtrl}, "\x1b"},
		{tea.KeyPressMsg{Code: '\\', Mod: tea.ModCtrl}, "\x1c"},
		{tea.KeyPressMsg{Code: ' ', Mod: tea.ModCtrl}, "\x00"},
		{tea.KeyPressMsg{Code: 'x', Mod: tea.ModAlt, Text: "x"}, "\x1bx"},
		{tea.KeyPressMsg{Code: tea.KeyLeft, Mod: tea.ModAlt}, "\x1b\x1b[D"},
		{tea.KeyPressMsg{Code: 'é', Text: "é"}, "é"},
		{tea.KeyPressMsg{Code: '1', Mod: tea.ModCtrl}, ""}, // no such control byte
		{tea.KeyPressMsg{Code: tea.KeyCapsLock}, ""},
	} {
		if got := string(keyBytes(tc.k)); got != tc.want {
			t.Errorf("%s: sends %q, want %q", tc.k, got, tc.want)
		}
	}
}

func TestShortPortAndStoreName(t *testing.T) {
	t.Parallel()
	if got := shortPort("/dev/ttyUSB0"); got != "/dev/ttyUSB0" {
		t.Errorf("shortPort kept short names whole: %q", got)
	}
	if got := shortPort("/dev/serial/by-id/usb-Silicon_Labs_CP2102-if00-port0"); got != "usb-Silicon_Labs_CP2102-if00-port0" {
		t.Errorf("shortPort = %q", got)
	}
	for in, want := range map[string]string{
		"/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-nixos-25.11": "nixos-system-nixos-25.11",
		"./result":        "./result",
		"/nix/store/oops": "/nix/store/oops",
	} {
		if got := storeName(in); got != want {
			t.Errorf("storeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBoardLineNamesTheBoardFromItsFacts(t *testing.T) {
	t.Parallel()
	if got := boardLine(nil); got != "no board facts recorded" {
		t.Errorf("no facts: %q", got)
	}
	got := boardLine(map[string]string{step.FactIP: "192.168.55.1", step.FactModule: "Orin Nano 8GB", step.FactHostname: "nixos",
		step.FactSSHUser: "root"})
	if got != "Orin Nano 8GB · nixos · 192.168.55.1" {
		t.Errorf("boardLine = %q", got)
	}
}

// The push form turns its fields into options or says what is wrong.
func TestPushFormOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		host, port, system string
		mode               int
		want               string // an error, or "" when it builds
		check              func(deploy.Options) bool
	}{
		{"closure", "192.168.55.1", "22", "./result", 0, "", func(o deploy.Options) bool {
			return o.Target.Host == "192.168.55.1" && o.Target.Port == 22 && o.Closure == "./result" && o.Flake == "" && o.Mode == deploy.Auto
		}},
		{"flake", "board", "2222", ".#jetson", 2, "", func(o deploy.Options) bool {
			return o.Flake == ".#jetson" && o.Closure == "" && o.Target.Port == 2222 && o.Mode == deploy.Switch
		}},
		{"no host", " ", "22", "./result", 0, "the board's address is needed", nil},
		{"port words", "b", "x", "./result", 0, `port "x" is not a port number`, nil},
		{"port zero", "b", "0", "./result", 0, `port "0" is not a port number`, nil},
		{"port too big", "b", "65536", "./result", 0, `port "65536" is not a port number`, nil},
		{"no system", "b", "22", "", 0, "which system?", nil},
	} {
		f := newPushForm(tc.host, tc.system)
		f.inputs[fPort].SetValue(tc.port)
		f.mode = tc.mode
		o, err := f.options()
		switch {
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.check != nil && !tc.check(o):
			t.Errorf("%s: options %+v", tc.name, o)
		}
	}
}
