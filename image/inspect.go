package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"

	"github.com/jetup/jetup/disklabel"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// Options for Inspect.
type Options struct {
	// Runner starts the external decompressors (xz, bzip2) as write does.
	Runner proc.Runner
	// KeepLimit bounds what is kept of a compressed image while it is
	// inspected (1 GiB when 0; zero pages are not kept).
	KeepLimit int64
}

// maxFATPartition is the largest FAT partition whose files are read.
const maxFATPartition = 2 << 30

// Inspect says what path is: a disk image (raw or compressed), a .swu
// bundle or a sysupdate directory. It fails (exit 2) only when the file
// cannot be read at all; what is wrong inside is in Report.Problems.
func Inspect(ctx context.Context, path string, o Options) (*Report, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, step.Refuse("image-missing", "check the path", "cannot read %s: %v", path, err)
	}
	if st.IsDir() {
		return InspectSysupdate(path)
	}
	if isCPIO(path) {
		return InspectSWU(path)
	}
	im, err := media.Inspect(path)
	if err != nil {
		return nil, err
	}
	rep := &Report{File: path, Kind: KindDisk, Compression: string(im.Format), Size: im.Size, Boot: []Boot{}, Problems: []Problem{}}
	var r io.ReaderAt
	if im.Format == media.Raw {
		f, err := os.Open(path)
		if err != nil {
			return nil, step.Refuse("image-unreadable", "check the file's permissions", "%v", err)
		}
		defer f.Close()
		r = f
	} else {
		if o.KeepLimit == 0 {
			o.KeepLimit = 1 << 30
		}
		sp, err := newSpool(func() (io.ReadCloser, error) { return im.Open(ctx, o.Runner, nil) }, o.KeepLimit)
		if err != nil {
			return nil, step.Refuse("image-unreadable", "check the file and the temporary directory", "cannot read %s: %v", path, err)
		}
		defer sp.Close()
		r = sp
		defer func() {
			if sp.err != nil {
				rep.problem("image", "%v", sp.err)
			}
		}()
	}
	d, err := disklabel.ReadWith(r, im.Size, disklabel.Options{Stream: im.Format != media.Raw})
	if err != nil {
		if sp, ok := r.(*spool); ok && sp.err != nil {
			err = sp.err
		}
		return nil, step.Refuse("image-unreadable", "the file is damaged or not a disk image: fetch or build it again", "cannot read the start of %s: %v", path, err)
	}
	rep.fromDisk(d)
	rep.findBoot(r, d)
	rep.Sysupdate = sysupdateFromLabels(rep)
	return rep, nil
}

func (r *Report) fromDisk(d *disklabel.Disk) {
	r.disk = d
	r.Table, r.HybridMBR = d.Table, d.HybridMBR
	r.Partitions = []Partition{}
	for _, p := range d.Partitions {
		q := Partition{Index: p.Index, Start: p.Start, Size: p.Size, Type: p.Type, TypeName: p.TypeName, Label: p.Label}
		if p.FS != nil {
			q.FS, q.FSLabel = p.FS.Type, p.FS.Label
		}
		r.Partitions = append(r.Partitions, q)
	}
	if d.FS != nil {
		r.FS, r.FSLabel = d.FS.Type, d.FS.Label
	}
	for _, p := range d.Problems {
		r.problem("partition table", "%s", p)
	}
}

// findBoot reads the FAT partitions (and a whole-image FAT or ISO) for
// the boot chain.
func (r *Report) findBoot(ra io.ReaderAt, d *disklabel.Disk) {
	sp, _ := ra.(*spool)
	for _, p := range d.Partitions {
		if p.FS == nil || p.FS.Type != "vfat" {
			continue
		}
		if p.Size > maxFATPartition {
			r.problem("partition "+itoa(p.Index), "a %s FAT partition is larger than jetup reads for its boot files", media.HumanIEC(p.Size))
			continue
		}
		if sp != nil {
			if err := sp.fetch(p.Start, p.End()); err != nil && !errors.Is(err, io.EOF) {
				r.problem("partition "+itoa(p.Index), "cannot read it: %v", err)
				continue
			}
		}
		fat, err := disklabel.OpenFAT(ra, p.Start, p.Size)
		if err != nil {
			r.problem("partition "+itoa(p.Index), "its FAT file system cannot be read: %v", err)
			continue
		}
		r.Boot = append(r.Boot, bootOnFS(fat, p.Index)...)
	}
	if d.FS == nil {
		return
	}
	switch d.FS.Type {
	case "vfat":
		if fat, err := disklabel.OpenFAT(ra, 0, 1<<62); err == nil {
			r.Boot = append(r.Boot, bootOnFS(fat, 0)...)
		}
	case "iso9660":
		iso, err := disklabel.OpenISO(ra, 0)
		if err != nil {
			r.problem("iso9660", "%v", err)
			return
		}
		r.Boot = append(r.Boot, bootOnFS(iso, 0)...)
		r.Boot = append(r.Boot, kernelOnISO(iso)...)
	}
}

// fsReader is a FAT or ISO file system.
type fsReader interface {
	ReadDir(path string) ([]disklabel.DirEntry, error)
	ReadFile(path string, max int64) ([]byte, error)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// isCPIO tells an SWUpdate bundle by its first bytes.
func isCPIO(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 6)
	if _, err := io.ReadFull(f, b); err != nil {
		return false
	}
	return bytes.Equal(b, []byte("070702")) || bytes.Equal(b, []byte("070701"))
}
