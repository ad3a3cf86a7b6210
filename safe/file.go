package safe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Errors ReadFile wraps, for callers that answer them differently (a
// cause id, a hint): errors.Is(err, ErrTooLarge).
var (
	ErrTooLarge   = errors.New("file too large")
	ErrNotRegular = errors.New("not a regular file")
)

type fileError struct {
	msg  string
	kind error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.kind }

// ReadFile reads the whole of a regular file of at most limit bytes. Every
// file jetup reads whole (a record, a manifest, a profile, a key, a sums
// file) may be named by mistake or by someone else, so: a FIFO, a device
// (/dev/zero), a socket or a directory is refused before any byte is read
// (the open itself does not wait for a FIFO's writer), and a file bigger
// than limit is refused with its size and the limit rather than filling
// memory. Files whose size stat does not know (procfs says 0) are read up
// to limit+1 bytes all the same. A missing file is the *fs.PathError of
// the open (errors.Is(err, fs.ErrNotExist)).
func ReadFile(path string, limit int64) ([]byte, error) {
	f, fi, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, tooLarge(path, fmt.Sprint(fi.Size()), limit)
	}
	b := make([]byte, 0, max(min(fi.Size(), limit)+1, 512))
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit { // it grew, or stat did not know its size
			return nil, tooLarge(path, "more than "+fmt.Sprint(limit), limit)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow: the next read has room
		}
	}
}

// Open opens a regular file for reading, for a reader that reads part of
// it (a log's tail): a FIFO, a device, a socket or a directory is refused
// as ReadFile refuses it, without waiting for a FIFO's writer.
func Open(path string) (*os.File, error) {
	f, _, err := open(path)
	return f, err
}

func open(path string) (*os.File, os.FileInfo, error) {
	// O_NONBLOCK: opening a FIFO for reading otherwise blocks until a
	// writer comes. It changes nothing for a regular file's reads.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &fileError{kind: ErrNotRegular,
			msg: fmt.Sprintf("%s is %s, not a regular file: jetup reads only regular files here", path, fileKind(fi.Mode()))}
	}
	return f, fi, nil
}

func tooLarge(path, size string, limit int64) error {
	return &fileError{kind: ErrTooLarge,
		msg: fmt.Sprintf("%s is %s bytes; jetup reads at most %d from it", path, size, limit)}
}

// fileKind names what a non-regular file is, for the error.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	default:
		return "a special file (" + m.Type().String() + ")"
	}
}
