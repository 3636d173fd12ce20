// Package converge changes an existing kit in place, crash-safely, and
// keeps the record every kit holds of itself.
//
// The record (KitState, at StatePath on the ESP) names every file compose
// wrote on either partition with its size and SHA-256, and every ISO with
// its pinned digest and a sample (the SHA-256 of its first and last 64
// KiB). It is written in the same atomic step as the menu.
//
// ReadTarget (Read on a file the caller opened) reads a target's GPT, its
// ESP and record, and checks the record against what is there (drift):
// small files whole, ISOs by size and sample (ISOCheckSampled), the ext4
// data partition as its journal would replay, in memory. A GPT, record or
// volume is hostile input: what no compose writes makes the target not a
// kit, never a crash or an unbounded allocation.
//
// MakeDiff compares the record wanted with a Target: the +/~/- changes
// `compose plan` prints, whether they fit in one commit or two
// (Diff.Interim) and why they cannot be made in place (Diff.Recreate).
//
// Run executes a Diff against the target it was made from. Its input is
// plain data (Goal): the record wanted, the files planned for the ESP and
// the data partition, and for a two-step apply the interim menu and record,
// all rendered by the caller's planner. The ESP is changed through
// compose/internal/fatedit's crash-safe FAT32 update, in one commit or
// two (first a menu and record without the ISOs being replaced, then the
// new files); the ext4 data partition through its journal
// (compose/internal/ext4edit): new files under new paths before the ESP's
// commit, old ones removed after it. Each commit is read back with the
// page cache bypassed (compose/internal/directio). A kill at any point
// leaves the old kit, the interim one or the new one; running again
// finishes the job.
//
// Verify reads a kit whole, with O_DIRECT: every file the record names on
// either partition, and core.img with the MBR boot code, against the
// record's digests (an ISO's is its whole pinned digest, so no manifest is
// needed); it writes nothing, and reports each file ok, changed, missing
// or unreadable (ErrDamaged), or the target not a kit (ErrNotKit).
//
// Persistence partitions (StatePartition.Persistence) hold the user's
// data: the record names where each is (entry, label, GPT name, offset,
// size, GUID), never what it holds. ReadTarget finds each in the GPT where
// the record says (else drift) and reads its superblock for the bytes in
// use and its UUID, nothing else; Run never writes inside one, and
// MakeDiff keeps one that is the same in the record wanted, and needs a
// rewrite in full (Recreate) for a new, removed or resized one.
//
// It knows nothing of manifests, plans or the Kit workflow (package
// compose drives it), and prints nothing: progress leaves through
// callbacks.
package converge
