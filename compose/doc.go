// Package compose turns a validated manifest into a plan and executes it.
//
// A Plan is data: the downloads a kit needs, the partitions and files of the
// image, the menu entries with the way each ISO boots, and warnings. MakePlan
// computes it without writing anything; Apply executes it. The same Plan value
// that `compose plan` prints is the one `compose apply` runs.
//
// This is the only package that joins config (what the user asked for),
// fetch (verified ISOs in a cache), bootloader (GRUB files, BIOS boot code,
// ISO inspection, grub.cfg) and compose/disk (the GPT/FAT32/ext4 writer).
// An existing kit is converged rather than rebuilt: every build records
// its content on the ESP (KitState, at StatePath); ReadTarget reads it back
// with drift checks, MakeDiff compares it with a plan (the +/~/- changes
// `compose plan --image` prints), and Apply writes only those changes
// through compose/internal/fatedit's crash-safe in-place FAT32 update.
//
// Those packages know nothing of each other; the translation between their
// types lives here. It prints nothing: progress leaves through callbacks.
package compose
