// Package device finds the disks compose may write a kit to, refuses the
// ones it must not touch, and writes an image to one or several of them at
// once, fast and verified.
//
// It lives under compose because compose uses it: the Kit's device gate
// (compose.Kit.Apply with Devices) checks every device against the planned
// size before anything is built and writes them after; the CLI uses it
// directly only to list devices (`compose devices`).
//
// Contract, in the order compose.Kit uses it:
//
//   - List(root) returns every whole disk with its bus, size, model, mounted
//     partitions, holders, swap use and the Reasons compose would refuse it
//     (Device.Refusals). Lookup(root, path) does the same for one path the
//     user named (a symlink such as /dev/disk/by-id/… is followed). A zero
//     Root means the host's /sys, /proc, /dev and /run/udev/data; tests pass
//     a fixture tree.
//   - BackedBy(root, fileInfo) returns the loop devices whose backing file
//     is that file (by device and inode), and Device.InUse what mounts or
//     holds one: compose refuses to change an image in place under a
//     mounted file system.
//   - Check(dev, imageSize, opts) returns nil or an *UnsafeTargetError that
//     matches ErrUnsafeTarget with errors.Is and names the device and every
//     reason. Only two reasons yield to CheckOptions.Force: not removable
//     (not USB/MMC) and larger than MaxSize (1 TiB by default). Mounted,
//     system disk, swap, LVM/RAID/dm member, read-only, too small, partition
//     instead of disk and not a block device never do.
//   - Write(ctx, image, targets, opts, progress) opens each target with
//     O_EXCL right before writing, checks it again through the open file,
//     and writes all of them from one read of the image. It returns one
//     Result per target, in order; a target failing never stops the others.
//     Result.Complete is true only when everything was written, flushed and
//     (unless NoVerify) read back with a matching SHA-256. Progress events
//     are delivered from one goroutine at a time.
//   - WriteOptions.Files streams host files into ranges the image reserved
//     for them (compose/disk's Spec.Defer), so the image holds only the
//     metadata: the body is read in image order with each file's bytes laid
//     over its extents, every source read once, front to back, and hashed
//     against its pin; a mismatch (*SourceError) fails every device before
//     its head is written. WriteOptions.Zeros are ranges the builder left as
//     holes that the devices must get as zeros (ext4 inode tables).
//
// What is skipped and why that is safe: only ranges that are holes in the
// image file (SEEK_HOLE) are skipped, never zero bytes the image wrote. An
// image builder must therefore write every metadata byte it relies on;
// go-diskfs and mkfs.fat do. As a guard against old data on a reused stick,
// these ranges are always written (zeros where the image has a hole): the
// first MiB of the disk, the first MiB of every GPT partition, the reserved
// sectors and FATs of every FAT partition, the last MiB of the image and the
// last MiB of the device.
//
// A device larger than the image gets a GPT that fits it: the primary
// header's alternate LBA and last usable LBA are moved to the device's end,
// the backup entries and header are written at its last LBAs, the image's
// own backup header is zeroed and the protective MBR entry is resized, all
// with fresh CRCs. Partitions are left as the image laid them out.
//
// Order of writes, so that an interrupted stick never looks like a kit: the
// partition table sectors at both ends are zeroed and flushed first, then
// the body, then the tail, and the head (MBR + primary GPT) last, each step
// flushed. Then the kernel is asked to re-read the partition table
// (BLKRRPART; a failure is a warning) and the written ranges are read back
// with O_DIRECT (or after BLKFLSBUF and POSIX_FADV_DONTNEED when direct I/O
// is unavailable) so the check reads the device, not memory.
//
// Only Linux is implemented; the OS-specific parts live in *_linux.go and
// other systems get ErrUnsupported from List, Lookup and Write.
package device
