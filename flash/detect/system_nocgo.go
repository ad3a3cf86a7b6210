//go:build !cgo

package detect

// System is the lister for this host. This build has no cgo, so no libusb:
// devices are listed from sysfs.
func System() Lister { return NewSysfs("") }
