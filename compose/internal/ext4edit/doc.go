// Package ext4edit changes the files of compose's ext4 data partition in
// place, crash-safely, through a jbd2 journal: the ext4 sibling of fatedit.
// go-diskfs v1.9.4 cannot safely modify a live volume (nothing orders its
// writes), so this package writes ext4 itself, small and e2fsck-tested.
//
// Scope: the volumes compose/disk makes (go-diskfs; ext_attr filetype
// extent 64bit flex_bg sparse_super large_file huge_file; any block size up
// to 4 KiB) with a journal AddJournal added at creation. Geometry comes from
// the superblock and group descriptors. Any other feature (metadata_csum,
// gdt_csum/uninit_bg, bigalloc, inline_data, meta_bg, encrypt, quota, ...),
// a hashed directory or a journal with checksums is refused with
// ErrUnsupported naming it; a volume without a journal (an older compose)
// gives ErrNoJournal. Inodes are written with the inode checksum go-diskfs
// insists on even without metadata_csum.
//
// Update adds, replaces (remove and add of one path) and removes files in
// ONE journal transaction, in this order:
//
//  1. New contents, the extent leaf blocks of files needing more than the
//     inode's 4 extents, and every other block the transaction allocates
//     (new directory blocks, a directory's fresh leaf) go to blocks free in
//     the on-disk bitmaps (blocks the transaction frees are not reused: the
//     old files stay whole until the commit). Nothing refers to them yet.
//     Live tree blocks are never rewritten in place. Sync.
//  2. needs_recovery is set in the superblock while the journal is empty.
//     Sync.
//  3. The transaction goes into the journal: descriptor blocks tagging
//     every changed metadata block (superblock, group descriptors, bitmaps,
//     inode table and directory blocks; a copy starting with the jbd2 magic
//     is escaped), the copies, a commit block. Sync. Blocks of an older
//     transaction left further on carry an older sequence and end replay.
//  4. The commit: one write of the journal superblock's first 1024 bytes
//     (s_start, s_sequence). Sync.
//  5. Checkpoint: every block goes home, directory blocks last. Sync.
//  6. The journal is emptied (s_start 0, the next sequence). Sync.
//     needs_recovery is cleared. Sync.
//
// Guarantees: an interruption at any write leaves a volume that, once its
// journal is replayed (Recover, e2fsck, or the kernel on mount; all three
// are tested), is e2fsck-clean and holds either the whole old set of files
// or the whole new one. Replay by e2fsck and by Recover give the same
// blocks. Recover also replays journals the kernel wrote (64-bit tags,
// revoke records).
//
// Without replay, e2fsck -fn (1.47) exits 0 before the commit (steps 1-3,
// needs_recovery set on an empty journal included), right after it (step
// 4, nothing checkpointed: the old metadata is whole), once the checkpoint
// is complete, and after step 6; it exits 4 only mid-checkpoint (step 5),
// when some home blocks are new and some old. Readers that never replay
// (GRUB, checked with grub-fstest at every stop) read each path as its
// whole old or whole new content or not at all, and untouched files
// identically: directory blocks go home last, and blocks the transaction
// allocates are written before the commit.
//
// Not guaranteed: atomicity against a device that tears the 1024-byte
// journal superblock write or reorders writes across a flush; a volume
// that needs recovery is only readable after Recover (Open reports it,
// Update and Volume.Open refuse). Update needs room for the new contents
// beside the old (ErrNoSpace says how much), and a transaction that fits
// the journal.
package ext4edit
