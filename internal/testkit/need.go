package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run in CI, where every real part must be
// present.
func CI() bool { return os.Getenv("CI") == "true" }

// Need skips the test with reason when ok is false, or fails it under CI.
func Need(t testing.TB, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("CI=true but %s", reason)
	}
	t.Skipf("skipped: %s", reason)
}

// NeedRoot needs uid 0 (loop devices, namespaces, udev).
func NeedRoot(t testing.TB) {
	t.Helper()
	Need(t, os.Geteuid() == 0, "this test needs root")
}

// NeedCommands needs each program on PATH; the reason names the package
// that provides it when known.
func NeedCommands(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := exec.LookPath(n)
		Need(t, err == nil, n+" is not installed (make test installs it when run as root: scripts/deps.sh test)")
	}
}
