package testkit

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"
)

// Mark returns a unique environment entry ("JETUP_TEST_MARK=<unique>") for
// a test to put in the environment of what it starts: every process
// descended from it inherits the entry, so Marked finds whatever is left
// behind, double-forked daemons and root-owned children included.
func Mark(t testing.TB) string {
	return "JETUP_TEST_MARK=" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
}

// Marked lists the processes (other than this one) whose environment holds
// the entry mark.
func Marked(mark string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == mark {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}
