package media

import (
	"fmt"
	"strings"
	"time"
)

// Receipt is the record of one write for the run record (rs.SetDetails):
// which device, which image, how long, how fast, and whether it verified.
// Field names are an interface.
type Receipt struct {
	Device  Identity      `json:"device"`
	Image   ImageReceipt  `json:"image"`
	Bmap    *BmapReceipt  `json:"bmap,omitempty"`
	Bytes   int64         `json:"bytes_written"`
	Started time.Time     `json:"started"`
	Ended   time.Time     `json:"ended"`
	Write   PhaseReceipt  `json:"write"`
	Verify  VerifyReceipt `json:"verify"`
	// Result is "verified", "written" (--no-verify) or "failed".
	Result        string `json:"result"`
	PartlyWritten bool   `json:"partly_written,omitempty"`
	Error         string `json:"error,omitempty"`
	PowerOff      string `json:"power_off,omitempty"`
	// Cause and Next are the failure's cause id and next step; FailedAt
	// is the byte where the device failed or first differed.
	Cause    string `json:"cause,omitempty"`
	Next     string `json:"next,omitempty"`
	FailedAt int64  `json:"failed_at,omitempty"`
	// Target and Port name the disk when several were written at once
	// ("sdb", "usb 2-1.4").
	Target string `json:"target,omitempty"`
	Port   string `json:"port,omitempty"`

	Decoder string `json:"decoder"`
	Direct  bool   `json:"o_direct"`
	Writers int    `json:"writes_in_flight"`
	Chunk   int    `json:"chunk_bytes"`
	// Samples is the rate series, one per second.
	Samples []RateSample `json:"rate_samples,omitempty"`
}

// ImageReceipt names the image and its hash.
type ImageReceipt struct {
	Path     string `json:"path"`
	Name     string `json:"name"`
	Format   Format `json:"format"`
	FileSize int64  `json:"file_size"`
	Size     int64  `json:"size,omitempty"`
	// SHA256 is the hash of the file at Path as it was read for the write
	// (what `sha256sum PATH` prints and a published IMAGE.sha256 holds),
	// the whole file even where a bmap left parts of the image out.
	SHA256 string `json:"sha256,omitempty"`
	// UncompressedSHA256 is the hash of the uncompressed image where it is
	// known without another pass: a raw image (the file itself), or a
	// checksum of the uncompressed image checked before writing.
	UncompressedSHA256 string    `json:"uncompressed_sha256,omitempty"`
	Checksum           *Checksum `json:"checksum,omitempty"`
}

// BmapReceipt says what the bmap left out.
type BmapReceipt struct {
	Path      string `json:"path"`
	ImageSize int64  `json:"image_size"`
	Mapped    int64  `json:"mapped_bytes"`
	// Zeroed is how much of the unmapped space the device zeroed itself.
	Zeroed int64 `json:"zeroed_bytes"`
	// Gaps is what became of the unmapped space: GapsZeroed, GapsLeft or
	// GapsPartly.
	Gaps string `json:"gaps"`
}

// What became of the space a bmap leaves out (BmapReceipt.Gaps).
const (
	// GapsZeroed: the device zeroed it without the zeros being written.
	GapsZeroed = "zeroed"
	// GapsLeft: the device cannot zero without writing, so the gaps keep
	// what the stick held before, as bmaptool leaves them.
	GapsLeft = "left"
	// GapsPartly: zeroing failed part way.
	GapsPartly = "partly-zeroed"
)

// PhaseReceipt is a phase's duration and rates (bytes per second; the
// minimum is the slowest whole second).
type PhaseReceipt struct {
	Seconds float64 `json:"seconds"`
	AvgRate float64 `json:"avg_bps"`
	MinRate float64 `json:"min_bps"`
}

// VerifyReceipt is the read-back's result: ok, mismatch, skipped, error or
// not-run.
type VerifyReceipt struct {
	Result string `json:"result"`
	PhaseReceipt
	// Bytes is how much was read back and matched.
	Bytes int64 `json:"bytes,omitempty"`
	// Method says what was compared ("xxh3-64 of every 64 KiB block").
	Method   string    `json:"method,omitempty"`
	Mismatch *Mismatch `json:"mismatch,omitempty"`
}

// VerifyMethod is how the read-back is compared with what was written.
const VerifyMethod = "xxh3-64 of every 64 KiB block, read back with O_DIRECT"

func (r *Receipt) finish(err error) {
	switch {
	case err != nil:
		r.Result = "failed"
		r.Error = err.Error()
		r.failure(err)
	case r.Verify.Result == "ok":
		r.Result = "verified"
	default:
		r.Result = "written"
	}
}

// Text is the receipt for people.
func (r *Receipt) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "device:  %s  %s %s  serial %s  %s\n", r.Device.Path, strings.TrimSpace(r.Device.Vendor+" "+r.Device.Model),
		HumanBytes(r.Device.Size), orDash(r.Device.Serial), orDash(r.Device.ByPath))
	fmt.Fprintf(&b, "image:   %s (%s)  %s\n", r.Image.Name, r.Image.Format, HumanIEC(r.Image.Size))
	if r.Image.SHA256 != "" {
		fmt.Fprintf(&b, "sha256:  %s (of %s)\n", r.Image.SHA256, r.Image.Name)
	}
	if u := r.Image.UncompressedSHA256; u != "" && u != r.Image.SHA256 {
		fmt.Fprintf(&b, "sha256:  %s (uncompressed)\n", u)
	}
	if c := r.Image.Checksum; c != nil {
		fmt.Fprintf(&b, "checked: %s from %s (%s)\n", c.Want, c.Source, c.Matched)
	}
	if r.Bmap != nil {
		gaps := map[string]string{GapsZeroed: "the rest zeroed by the device", GapsLeft: "the rest left as it was (the device cannot zero without writing)",
			GapsPartly: "the rest partly zeroed"}[r.Bmap.Gaps]
		fmt.Fprintf(&b, "bmap:    %s mapped of %s; %s\n", HumanIEC(r.Bmap.Mapped), HumanIEC(r.Bmap.ImageSize), orDash(gaps))
	}
	fmt.Fprintf(&b, "write:   %s in %.1fs, %s average, %s slowest second\n", HumanIEC(r.Bytes), r.Write.Seconds,
		HumanRate(r.Write.AvgRate), HumanRate(r.Write.MinRate))
	switch r.Verify.Result {
	case "ok":
		fmt.Fprintf(&b, "verify:  ok in %.1fs, %s average, every block read back matches\n", r.Verify.Seconds, HumanRate(r.Verify.AvgRate))
	case "mismatch":
		fmt.Fprintf(&b, "verify:  MISMATCH at byte %d\n", r.Verify.Mismatch.Offset)
	default:
		fmt.Fprintf(&b, "verify:  %s\n", r.Verify.Result)
	}
	fmt.Fprintf(&b, "result:  %s", r.Result)
	return b.String()
}

// Label names the stick written: "sdb (usb 2-1.4, serial 4C530001)".
func (r *Receipt) Label() string {
	name := r.Target
	if name == "" {
		name = strings.TrimPrefix(r.Device.Path, "/dev/")
	}
	return label(name, r.Port, r.Device.Serial)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
