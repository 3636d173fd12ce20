// Package ext4edit changes the files of compose's ext4 data partition in
// place, crash-safely, through a jbd2 journal: the ext4 sibling of fatedit
// (go-diskfs v1.9.4 cannot safely modify a live volume, so this package
// writes ext4 itself, small and e2fsck-tested).
//
// It handles the volumes compose/disk makes (go-diskfs, no metadata_csum)
// plus a journal that AddJournal adds at creation. Any other feature is
// refused with ErrUnsupported, naming it; a volume without a journal gives
// ErrNoJournal.
package ext4edit
