// Package disk builds a bootable GPT disk image file from a Spec: an
// optional 1 MiB BIOS boot partition holding raw bytes (GRUB's core.img), a
// FAT32 EFI System Partition with files, and an optional ext4 data partition
// for files FAT32 cannot hold (4 GiB or more) or for every ISO when asked.
//
// Contract:
//   - ComputeLayout is pure: it sizes and places everything from the Spec's declared
//     sizes and returns every error it can (file too big for FAT32, image too
//     small, bad label or name) before a byte is written.
//   - Build writes a temporary file beside the target and renames it into
//     place only when complete (and verified when Spec.Verify is set). On
//     failure or context cancellation no partial file is left and an existing
//     target is untouched.
//   - Images are reproducible: GUIDs, the FAT volume ID and the ext4 UUID and
//     hash seed come from Spec.Seed, every timestamp is Spec.Time, files and
//     directories are created in sorted order.
//   - Verify re-opens an image, checks its partition table against a Layout
//     and reads every file back through go-diskfs, comparing SHA-256 digests.
//
// Input types are plain (File, Spec) so that callers (the compose plan/apply
// glue) need not share types with this package.
//
// go-diskfs v1.9.4 creates the GPT, the FAT32 and ext4 file systems, their
// directories and every file's allocation; the package then repairs what that
// version gets wrong (see fatfix.go and ext4fix.go): `..` entries of root
// subdirectories, clusters given to empty files, broken 8.3 names of dot-files,
// the FSInfo free count, hidden sectors, time.Now() stamps and random seeds.
// FAT sizes where v1.9.4 computes a FAT two entries short are avoided in
// Layout.
//
// Data path: FAT32 file contents bypass go-diskfs. Every allocating
// fat32 File.Write rewrites both FATs, so writing a file piecewise costs
// O(size × FAT size). Instead each file gets its whole cluster chain in one
// go-diskfs write (of its last byte), the chain's disk ranges come from
// go-diskfs (GetDiskRanges), and the contents are copied there directly:
//   - a host file with a declared File.SHA256 (the fetch step has verified
//     it) is copied by the kernel (copy_file_range through io.CopyN between
//     two *os.File), skipping the source's holes; nothing is hashed, and
//     Verify compares the read-back bytes with the declared digest;
//   - anything else streams through 8 MiB buffers (4 in flight, whatever the
//     file size) with reading, SHA-256 and positioned writes overlapped;
//     all-zero chunks are not written (the image starts sparse).
//
// ext4 contents go through go-diskfs File.Write in 8 MiB chunks (fast
// there; an all-zero chunk writes only its last byte, which allocates it).
//
// Names: ComputeLayout plays go-diskfs's 8.3 alias generation forward and
// refuses names that would collide (go-diskfs matches long and short names,
// so a collision would open the wrong file); names are printable ASCII
// without "*:<>?\| and without leading/trailing spaces or trailing dots.
//
// Progress: the callback gets EventPlace and EventVerify events, one call at
// a time, from Build's goroutines.
package disk
