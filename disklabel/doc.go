// Package disklabel reads what a disk or an image holds: its partition
// table (MBR, GPT with its header and entry checksums, a hybrid MBR) and
// the file system of each partition, told by its superblock's magic.
//
// Everything it reads comes from a disk or file jetup does not control, so
// every size taken from it is bounded before it is used: the GPT's entry
// size and count, the MBR's extended chain, a superblock's fields. A table
// that breaks a rule is reported as damaged with the entry named; nothing
// here allocates more than a few MiB or panics on any input (the fuzz test
// says so). It imports nothing of jetup's: media (the write step) and image
// (inspect) both read disks through it.
//
// # In detail
//
// disklabel: what a disk or image holds, read from bytes jetup does not
// control: the MBR (with the extended chain, at most 128 links, never the
// same sector twice), the GPT (header and entry-array CRC32s, the header's
// own LBA, entry size a power of two within 128-4096, the entry array at
// most 1 MiB, every sector number within the disk; a damaged primary falls
// back to the backup and says so), a hybrid MBR beside a GPT, overlapping or
// out-of-range entries named, and file systems by their superblock's magic
// (vfat, ext2/3/4, exfat, ntfs, xfs, btrfs, squashfs, erofs, f2fs, swap,
// LUKS, dm-verity, iso9660), at most 70 KiB read per partition. Labels lose
// control characters before anyone prints them. `FuzzRead` fuzzes it whole.
// Used by media (what a write erases) and image (inspect). Imports nothing
// of ours.
package disklabel
