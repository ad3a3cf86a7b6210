package serialcon

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/creack/pty"
)

// newPTY is a real pseudo-terminal standing in for a USB serial adapter:
// the test holds the master (the board's side), the code under test opens
// the slave by name.
func newPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	name := slave.Name()
	slave.Close()
	t.Cleanup(func() { master.Close() })
	return master, name
}

func readUntil(t *testing.T, d Device, want string) {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	deadline := time.Now().Add(bound)
	for string(got) != want {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v to read %q; read %q", bound, want, got)
		}
		n, err := d.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
}

// readLoop reads d until it fails and hands over the error; reading is
// closed once the first read has come back (idle: the loop is running).
func readLoop(d Device) (got chan error, reading chan struct{}) {
	got, reading = make(chan error, 1), make(chan struct{})
	go func() {
		first := true
		for {
			_, err := d.Read(make([]byte, 64))
			if first {
				close(reading)
				first = false
			}
			if err != nil {
				got <- err
				return
			}
		}
	}()
	return got, reading
}

func TestDeviceReadsWritesAndTimesOut(t *testing.T) {
	master, name := newPTY(t)
	d, err := System{}.Open(name, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	if n, err := d.Read(make([]byte, 16)); n != 0 || err != nil {
		t.Fatalf("idle read: %d %v", n, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("an idle read must come back soon (its timeout is 50 ms), not after %v", took)
	}
	if _, err := master.Write([]byte("Shell> ")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, d, "Shell> ")
	if _, err := d.Write([]byte("ver\r")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := master.Read(buf)
	if err != nil || string(buf[:n]) != "ver\r" {
		t.Errorf("board got %q %v", buf[:n], err)
	}
}

func TestDeviceTellsAnUnplugFromOurClose(t *testing.T) {
	master, name := newPTY(t)
	d, err := System{}.Open(name, Config{})
	if err != nil {
		t.Fatal(err)
	}
	got, reading := readLoop(d)
	<-reading
	master.Close() // the adapter is pulled out
	select {
	case err := <-got:
		if !errors.Is(err, ErrGone) {
			t.Errorf("unplug gave %v, want ErrGone", err)
		}
	case <-time.After(bound):
		t.Fatalf("waited %v for the read error after the unplug", bound)
	}
	d.Close()

	_, name2 := newPTY(t)
	d2, err := System{}.Open(name2, Config{})
	if err != nil {
		t.Fatal(err)
	}
	got, reading = readLoop(d2)
	<-reading
	d2.Close()
	select {
	case err := <-got:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("our close gave %v, want ErrClosed", err)
		}
	case <-time.After(bound):
		t.Fatalf("waited %v for the read error after our close", bound)
	}
}

func TestDeviceOpenErrors(t *testing.T) {
	_, name := newPTY(t)
	d, err := System{}.Open(name, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var oe *OpenError
	if _, err := (System{}).Open(name, Config{}); !errors.As(err, &oe) || oe.Cause != "port-busy" {
		t.Errorf("second open: %v", err)
	}
	if _, err := (System{}).Open(filepath.Join(t.TempDir(), "ttyUSB9"), Config{}); !errors.As(err, &oe) || oe.Cause != "port-missing" {
		t.Errorf("missing port: %v", err)
	}
	notTTY := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notTTY, nil, 0o644)
	if _, err := (System{}).Open(notTTY, Config{}); !errors.As(err, &oe) || oe.Cause != "port-invalid" {
		t.Errorf("a plain file: %v", err)
	}
	if _, err := (System{}).Open(name, Config{Parity: "purple"}); !errors.As(err, &oe) || oe.Cause != "port-invalid" {
		t.Errorf("bad parity: %v", err)
	}
}

func TestConfigString(t *testing.T) {
	if s := (Config{}).String(); s != "115200 8N1" {
		t.Error(s)
	}
	if s := (Config{Baud: 3000000, Parity: "even", StopBits: 2, DataBits: 7}).String(); s != "3000000 7E2" {
		t.Error(s)
	}
}
