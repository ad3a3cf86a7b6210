package tui

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/jetup/jetup/flash"
)

// TestMain: the test binary doubles as the flash helper, as jetup does.
// The tests run with an empty home of their own and no ssh-agent, so the
// Watch step's k finds no key but the one a test names (personsKey),
// never the person's. Most of their time is spent waiting for simulated hardware
// (a board's boot, a stick's pace, a push's round trips), not on a CPU, so
// up to 8 run at once unless -parallel says otherwise.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == flash.HelperArg {
		os.Exit(flash.HelperMain(os.Args[2:]))
	}
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	home, err := os.MkdirTemp("", "jetup-tui-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("HOME", home)
	os.Setenv("SSH_AUTH_SOCK", "")
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}
