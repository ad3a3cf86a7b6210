package media

import (
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// Format of an image file, told by its first bytes, never by its name.
type Format string

const (
	Raw   Format = "raw"
	Zstd  Format = "zstd"
	XZ    Format = "xz"
	Gzip  Format = "gzip"
	Bzip2 Format = "bzip2"
)

// Image is an image file and what its headers say about it.
type Image struct {
	Path     string `json:"path"`
	Name     string `json:"name"`
	Format   Format `json:"format"`
	FileSize int64  `json:"file_size"`
	// Size is the uncompressed size when the file tells it exactly
	// (raw; zstd frame headers; the xz index), else 0.
	Size int64 `json:"size,omitempty"`
	// MinSize is what the too-small rule weighs: Size when known.
	MinSize int64 `json:"min_size,omitempty"`
}

// Inspect opens path, tells its format by magic bytes and reads the
// uncompressed size where the format records it.
func Inspect(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, step.Refuse("image-missing", "check the path, or build the profile's installer (leave out --image)", "no image at %s", path)
		}
		return nil, step.Refuse("image-unreadable", "check the file's permissions", "cannot read the image: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, step.Refuse("image-format", "pass the image file inside it (the .iso or .img.zst)", "%s is a directory", path)
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if n == 0 {
		return nil, step.Refuse("image-format", "the download or build may have failed: fetch or build it again", "%s is empty", path)
	}
	format, err := sniff(head)
	if err != nil {
		return nil, step.Refuse("image-format", err.Error(), "%s is not a disk image jetup can write", filepath.Base(path))
	}
	im := &Image{Path: path, Name: filepath.Base(path), Format: format, FileSize: st.Size()}
	switch format {
	case Raw:
		im.Size = st.Size()
	case Zstd:
		im.Size = zstdSize(f, st.Size())
	case XZ:
		im.Size = xzSize(f, st.Size())
	}
	// gzip's ISIZE is the size modulo 4 GiB and garbage in a truncated
	// file: no basis for refusing a disk. Progress is estimated from the
	// compressed side instead.
	if im.Size > 0 {
		im.MinSize = im.Size
	}
	return im, nil
}

// sniff tells the format from the first bytes; formats jetup cannot write
// get a next step instead.
func sniff(b []byte) (Format, error) {
	has := func(p string) bool { return bytes.HasPrefix(b, []byte(p)) }
	switch {
	case has("\x28\xb5\x2f\xfd"):
		return Zstd, nil
	case len(b) >= 4 && b[0]&0xf0 == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18:
		return Zstd, nil // a skippable frame first (pzstd)
	case has("\xfd7zXZ\x00"):
		return XZ, nil
	case has("\x1f\x8b"):
		return Gzip, nil
	case has("BZh") && len(b) > 3 && b[3] >= '1' && b[3] <= '9':
		return Bzip2, nil
	case has("PK\x03\x04"):
		return "", errors.New("zip archives are not written directly: unzip it and pass the image inside")
	case has("7z\xbc\xaf\x27\x1c"):
		return "", errors.New("7z archives are not supported: extract the image with 7z x first")
	case has("\x04\x22\x4d\x18"):
		return "", errors.New("lz4 is not supported: decompress it with lz4 -d first, or recompress with zstd")
	case has("<?xml") || has("<bmap"):
		return "", errors.New("this is a .bmap file, not an image: pass the image with --image and the .bmap with --bmap")
	case has("-----BEGIN PGP") || has("SHA256 (") || isHexLine(b):
		return "", errors.New("this looks like a signature or checksum file, not an image")
	}
	return Raw, nil
}

func isHexLine(b []byte) bool {
	if len(b) < 64 {
		return false
	}
	for _, c := range b[:64] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
			return false
		}
	}
	return len(b) == 64 || b[64] == ' ' || b[64] == '\n' || b[64] == '\t'
}

// DecodeError is the image breaking while it is read: where, and whether
// the file simply ends too early.
type DecodeError struct {
	Format Format
	// Offset is how many uncompressed bytes came out before it broke.
	Offset int64
	// InOffset and InSize place it in the file.
	InOffset, InSize int64
	Truncated        bool
	Err              error
}

func (e *DecodeError) Error() string {
	what := "is corrupt"
	if e.Truncated {
		what = "ends too early (truncated)"
	}
	return fmt.Sprintf("the %s image %s: it broke at byte %d of %d of the file, after %d bytes of image data (%v)",
		e.Format, what, e.InOffset, e.InSize, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// countReader counts the bytes read from the file (the compressed side)
// and copies them to tee when set (the file's checksum, re-checked while
// writing).
type countReader struct {
	r   io.Reader
	n   atomic.Int64
	tee io.Writer
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if c.tee != nil && n > 0 {
		_, _ = c.tee.Write(p[:n])
	}
	return n, err
}

// Stream is an opened image: its uncompressed bytes in order.
type Stream struct {
	im    *Image
	in    *countReader
	out   io.Reader
	pos   int64
	close func() error
	// stop ends decompression early without closing the file (nil where
	// the decoder runs only inside Read).
	stop func()
	// inPos reads the file offset an external decompressor has reached
	// (it shares our open file description).
	inPos func() int64
	// Decoder names what decompresses ("xz -dc -T0", "klauspost/zstd").
	Decoder string
}

// InDone is how much of the file has been consumed.
func (s *Stream) InDone() int64 {
	if s.inPos != nil {
		return s.inPos()
	}
	return s.in.n.Load()
}

// Read returns uncompressed bytes; a broken or short file gives a
// *DecodeError saying where.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.out.Read(p)
	s.pos += int64(n)
	if err != nil && err != io.EOF {
		return n, s.decodeError(err)
	}
	return n, err
}

func (s *Stream) decodeError(err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	msg := err.Error()
	trunc := errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, "nexpected end") ||
		strings.Contains(msg, "ends unexpectedly") || strings.Contains(msg, "unexpected EOF")
	return &DecodeError{Format: s.im.Format, Offset: s.pos, InOffset: s.InDone(), InSize: s.im.FileSize, Truncated: trunc, Err: err}
}

// Close stops decompression (ending a decompressor process) and closes the
// file.
func (s *Stream) Close() error { return s.close() }

// ReadRest stops decompressing and reads what the decompressor has not
// read of the file (the tail a bmap leaves unmapped), so that the tee
// given to Open has seen the whole file.
func (s *Stream) ReadRest() error {
	if s.stop != nil {
		s.stop()
	}
	buf := make([]byte, 1<<20)
	for {
		_, err := s.in.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Open starts reading the image's uncompressed bytes. xz and bzip2 go
// through the external tools when runner finds them (xz -T0 decodes
// multi-block files on every core, many times faster than pure Go), with
// pure-Go decoders as the fallback. tee, when set, sees the file's bytes.
func (im *Image) Open(ctx context.Context, runner proc.Runner, tee io.Writer) (*Stream, error) {
	f, err := os.Open(im.Path)
	if err != nil {
		return nil, err
	}
	in := &countReader{r: f, tee: tee}
	s := &Stream{im: im, in: in, close: f.Close}
	switch im.Format {
	case Raw:
		s.out, s.Decoder = in, "none"
	case Zstd:
		// A 2 GiB window admits images made with zstd --long=31; memory
		// follows the window the file asks for, not this limit.
		d, err := zstd.NewReader(in, zstd.WithDecoderMaxWindow(1<<31), zstd.WithDecoderConcurrency(0))
		if err != nil {
			f.Close()
			return nil, err
		}
		s.out, s.Decoder = d, "klauspost/compress zstd"
		// Close returns once the decoder's goroutines have stopped
		// reading the file.
		s.stop = d.Close
		s.close = func() error { d.Close(); return f.Close() }
	case Gzip:
		d, err := gzip.NewReader(in)
		if err != nil {
			f.Close()
			return nil, s.decodeError(err)
		}
		s.out, s.Decoder = d, "klauspost/compress gzip"
	case XZ:
		if err := s.external(ctx, runner, f, []string{"xz"}, "-dc", "-T0"); err == nil {
			break
		}
		d, err := xz.NewReader(in)
		if err != nil {
			f.Close()
			return nil, s.decodeError(err)
		}
		s.out, s.Decoder = d, "ulikunitz/xz"
	case Bzip2:
		if err := s.external(ctx, runner, f, []string{"lbzip2", "pbzip2", "bzip2"}, "-dc"); err == nil {
			break
		}
		s.out, s.Decoder = bzip2.NewReader(in), "compress/bzip2"
	default:
		f.Close()
		return nil, fmt.Errorf("unknown format %q", im.Format)
	}
	return s, nil
}

// external pipes the file through the first tool of names that exists.
// The process runs in its own group and ends with ctx or Close.
func (s *Stream) external(ctx context.Context, runner proc.Runner, f *os.File, names []string, args ...string) error {
	if runner == nil {
		return errors.New("no runner")
	}
	var path string
	for _, n := range names {
		if p, err := runner.LookPath(n); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		return errors.New("no tool")
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := runner.Command(cctx, path, args...)
	// The file itself is the tool's stdin: no copy through this process,
	// and its offset (shared with the tool) says how far it has read.
	cmd.Stdin = f
	if s.in.tee != nil {
		cmd.Stdin = s.in
	} else {
		s.inPos = func() int64 {
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return 0
			}
			return off
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return err
	}
	var once sync.Once
	var waitErr error
	wait := func() error {
		once.Do(func() {
			waitErr = cmd.Wait()
			if waitErr != nil && ctx.Err() == nil {
				waitErr = fmt.Errorf("%s: %s", filepath.Base(path), strings.TrimSpace(stderr.String()))
			}
		})
		return waitErr
	}
	s.out = &procReader{r: out, wait: wait}
	s.Decoder = filepath.Base(path) + " " + strings.Join(args, " ")
	// Wait returns once the copy into the tool's stdin has ended.
	s.stop = func() { cancel(); _ = wait() }
	s.close = func() error {
		cancel()
		_ = wait()
		return f.Close()
	}
	return nil
}

// procReader reads a decompressor's stdout; at its end the process's exit
// status decides between a clean EOF and an error with its stderr.
type procReader struct {
	r    io.Reader
	wait func() error
}

func (p *procReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err == io.EOF {
		if werr := p.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}
