package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/step"
)

func (a *app) inspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect FILE|DIR",
		Short: "Say what an image, .swu bundle or sysupdate directory holds, before writing or sending it",
		Long: `Read an image or an update without writing anything: the partition table
(MBR/GPT) and each partition's type, label, size and file system; the boot
chain found (Raspberry Pi firmware and U-Boot, the RPi UEFI firmware
RPI_EFI.fd, systemd-boot and UKIs, the EFI removable path, GRUB, extlinux, an
installer ISO's kernel); systemd-repart/sysupdate names and versions. A .swu
is read whole: its sw-description (version, hardware-compatibility, images)
and whether every listed sha256 matches. A sysupdate directory is checked
against its SHA256SUMS.

Compressed images (zstd, xz, gzip, bzip2) go through the same decompressors
as write, and only as far as the partitions inspected need.

Exit status: 0 whole and consistent, 1 something inside is wrong (a hash
that does not match, an overlapping table, a truncated bundle), 2 it cannot
be read at all.`,
		Example: `  jetup inspect nixos-sd-image.img.zst
  jetup inspect update.swu --json
  jetup inspect ./sysupdate-out/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := image.Inspect(cmd.Context(), args[0], image.Options{Runner: a.hardware().Runner})
			if err != nil {
				return err
			}
			if a.json {
				if err := writeJSON(a.stdout, rep); err != nil {
					return err
				}
			} else {
				for _, l := range rep.Lines() {
					fmt.Fprintln(a.stdout, l)
				}
			}
			if !rep.OK() {
				p := rep.Problems[0]
				return &step.Error{Cause: "image-inconsistent", Code: step.ExitFailed,
					What: fmt.Sprintf("%s: %d problem(s), first in %s: %s", args[0], len(rep.Problems), p.Entry, p.What),
					Next: "do not write or send it: fetch or build it again"}
			}
			return nil
		},
	}
	return cmd
}
