package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jetup/jetup/media"
)

// spool turns a forward-only stream (a decompressor's output) into the
// io.ReaderAt disklabel needs, reading only as far as the furthest byte
// asked for. What was asked for is kept in an unlinked, sparse temporary
// file (zero pages are holes, so an empty 512 MiB firmware partition costs
// nothing); the rest streams past. A read behind the stream's position of
// bytes that were not kept reopens the stream, at most maxRestarts times.
type spool struct {
	open     func() (io.ReadCloser, error)
	src      io.ReadCloser
	pos      int64 // bytes of the stream consumed
	f        *os.File
	kept     []span // sorted, not overlapping
	eof      int64  // the stream's length once reached, else -1
	restarts int
	// err is the stream's own failure (a truncated or corrupt file).
	err error
	// keepLimit bounds the bytes kept on disk (holes not counted).
	keepLimit, keptBytes int64
}

type span struct{ off, end int64 }

const (
	maxRestarts = 3
	spoolChunk  = 1 << 20
)

var errKeepLimit = errors.New("more of the image is needed than jetup keeps while inspecting")

func newSpool(open func() (io.ReadCloser, error), keepLimit int64) (*spool, error) {
	f, err := os.CreateTemp("", "jetup-inspect-")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name()) // unlinked: gone when closed, whatever happens
	s := &spool{open: open, f: f, eof: -1, keepLimit: keepLimit}
	if s.src, err = open(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *spool) Close() error {
	if s.src != nil {
		s.src.Close()
	}
	return s.f.Close()
}

// covered reports whether [off, end) is kept.
func (s *spool) covered(off, end int64) bool {
	for _, k := range s.kept {
		if k.off <= off && end <= k.end {
			return true
		}
	}
	return false
}

func (s *spool) keep(off, end int64) {
	out := []span{}
	for _, k := range s.kept {
		if k.end < off || k.off > end {
			out = append(out, k)
			continue
		}
		off, end = min(off, k.off), max(end, k.end)
	}
	out = append(out, span{off, end})
	for i := len(out) - 1; i > 0 && out[i].off < out[i-1].off; i-- {
		out[i], out[i-1] = out[i-1], out[i]
	}
	s.kept = out
}

func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if !s.covered(off, end) && (s.eof < 0 || off < s.eof) {
		// Read on in 64 KiB steps: disklabel's next small read is
		// usually just after this one.
		if err := s.fetch(off, (end+0xffff)&^0xffff); err != nil {
			return 0, err
		}
	}
	if s.eof >= 0 {
		end = min(end, s.eof)
	}
	if off >= end {
		return 0, io.EOF
	}
	n, err := s.f.ReadAt(p[:end-off], off)
	if err == io.EOF { // a hole at the end of the file reads short
		clear(p[n : end-off])
		n, err = int(end-off), nil
	}
	if n < len(p) && err == nil {
		err = io.EOF
	}
	return n, err
}

// fetch makes [off, end) kept: reading on to it, or reopening the stream
// when it was passed already.
func (s *spool) fetch(off, end int64) error {
	if off < s.pos {
		if s.restarts >= maxRestarts {
			return fmt.Errorf("byte %d was passed already and the stream was reopened %d times", off, maxRestarts)
		}
		s.restarts++
		s.src.Close()
		var err error
		if s.src, err = s.open(); err != nil {
			return err
		}
		s.pos = 0
	}
	if s.keptBytes+(end-off) > s.keepLimit {
		return errKeepLimit
	}
	buf := make([]byte, spoolChunk)
	zero := make([]byte, 4096)
	for s.pos < end {
		want := min(int64(len(buf)), end-s.pos)
		if s.pos < off {
			want = min(int64(len(buf)), off-s.pos)
		}
		n, err := io.ReadFull(s.src, buf[:want])
		// Keep what lies at or after off, skipping zero pages (holes).
		for a := max(off, s.pos); a < s.pos+int64(n); a += 4096 {
			b := min(a+4096, s.pos+int64(n))
			piece := buf[a-s.pos : b-s.pos]
			if !bytes.Equal(piece, zero[:len(piece)]) {
				if _, werr := s.f.WriteAt(piece, a); werr != nil {
					return werr
				}
			}
		}
		s.pos += int64(n)
		if err != nil {
			var de *media.DecodeError
			if !errors.As(err, &de) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				s.eof = s.pos
				break
			}
			s.err = err
			return err
		}
	}
	if s.pos > off {
		s.keep(off, s.pos)
		s.keptBytes += s.pos - off
	}
	return nil
}
