// Package fatedit changes the files of an existing FAT32 volume in place,
// crash-safely, without a scratch copy: the live-update half of the disk
// writer (compose/disk builds whole volumes through go-diskfs; go-diskfs
// v1.9.4 cannot safely modify a live volume: every allocating write
// rewrites both FATs and nothing orders its writes).
//
// Contract: Open reads the boot sector, the whole FAT and the directory
// tree (refusing a volume whose two FATs differ). Update replaces, adds and
// removes files so that an interruption at any write (kill -9, a write
// error, unplugging) leaves a volume fsck.fat -n accepts holding either the
// whole old tree or the whole new one, never a mix. It does so by shadow
// paging, in this order:
//
//  1. New file contents go to clusters free in the current FAT. Nothing
//     refers to them yet: to fsck they are free space.
//  2. Every directory below the root is rewritten, also into free clusters:
//     unchanged files keep their entries (names, clusters) verbatim, replaced
//     files get their new clusters, new files get a long name and a unique
//     8.3 alias. The old directories stay untouched and in use.
//  3. The FSInfo free-cluster count is set to "unknown" (0xFFFFFFFF, which
//     fsck.fat and every driver accept and recount).
//  4. Sync, then the commit: ONE write covering FAT 1 from its first changed
//     sector, all of FAT 2 and the root directory, which FAT32 lays out
//     contiguously (the root must be one run of clusters starting the data
//     area, as go-diskfs and mkfs.fat make it; otherwise Update refuses).
//     That write allocates the new chains, frees the old directories and the
//     replaced and removed files, and points the root at the new directories:
//     renaming into place, swapping the menu and deleting removed files are
//     one step.
//  5. Sync, then the real FSInfo free count.
//
// The commit is atomic against process death: a kill leaves the writes
// issued before it, and the commit is one write (the tests stop the writer
// after every write, and kill -9 whole apply processes). Against power loss
// it relies on the device not tearing that one write of at most two FATs
// plus a root cluster; a torn commit needs fsck.fat -a. File data and the
// new directories are synced before the commit, so the new tree never
// names a partial file.
//
// Update needs room for the new contents beside the old (the old stay until
// the commit); ErrNoSpace says how much is missing.
package fatedit
