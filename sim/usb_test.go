package sim

import (
	"context"
	"testing"
	"time"

	"github.com/jetup/jetup/flash/detect"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func boards(t *testing.T, u *USB) []detect.Device {
	t.Helper()
	devs, err := detect.Scan(context.Background(), u, detect.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return detect.Boards(devs)
}

func TestSimBoardAppearsAfterTheDelayAndLeaves(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	u := NewUSB(USBConfig{Board: RecoveryBoard, AppearAfter: 4 * time.Second, LeaveAfter: 10 * time.Second})
	u.now = c.now

	if b := boards(t, u); len(b) != 0 {
		t.Fatalf("the board is there at once: %+v", b)
	}
	c.advance(3900 * time.Millisecond)
	if len(boards(t, u)) != 0 {
		t.Fatal("the board came early")
	}
	c.advance(100 * time.Millisecond)
	b := boards(t, u)
	if len(b) != 1 || b[0].USBInstance != "1-2" || b[0].SoM != "orin-nano" || b[0].Speed != 480 || len(b[0].Warnings) != 0 {
		t.Fatalf("after 4 s: %+v", b)
	}
	c.advance(10 * time.Second)
	if len(boards(t, u)) != 0 {
		t.Fatal("the board should have left")
	}
}

func TestSimBusPlugUnplugAndAccess(t *testing.T) {
	u := NewUSB(USBConfig{Board: RecoveryBoard, Denied: map[string]bool{RecoveryBoard.Node(): true}})
	second := detect.Record{Bus: 3, Dev: 2, Path: "1", Vendor: 0x0955, Product: 0x7323, SpeedMbps: 12}
	u.Plug(second)
	b := boards(t, u)
	if len(b) != 2 || !b[0].Has(detect.WarnNoAccess) || !b[0].Has(detect.WarnSeveral) || !b[1].Has(detect.WarnSlowLink) {
		t.Fatalf("%+v", b)
	}
	u.Unplug("1-2")
	if b := boards(t, u); len(b) != 1 || b[0].USBInstance != "3-1" {
		t.Fatalf("after unplug: %+v", b)
	}
	// Only the Jetsons are listed: the hub, keyboard and adapter are not.
	devs, _ := detect.Scan(context.Background(), u, detect.Options{}, nil)
	if len(devs) != 1 {
		t.Errorf("non-Jetson devices listed: %+v", devs)
	}
}

func TestDemoUSBForShowsTheProfilesBoard(t *testing.T) {
	u := DemoUSBFor("0955:7023")
	u.now = (&clock{t: time.Now().Add(-time.Hour)}).now
	_, _ = u.List(context.Background(), nil)
	u.now = time.Now
	if b := boards(t, u); len(b) != 1 || b[0].SoM != "orin-agx" {
		t.Errorf("%+v", b)
	}
	if DemoUSBFor("garbage").cfg.Board != RecoveryBoard {
		t.Error("a bad id keeps the Orin Nano")
	}
}
