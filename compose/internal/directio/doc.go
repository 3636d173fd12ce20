// Package directio reads a disk or an image file with the page cache
// bypassed (O_DIRECT), so that a read-back check sees what the medium
// holds, not what memory remembers writing. It also gives the aligned
// buffers O_DIRECT needs, for compose/device's writes.
//
// Contract: Open opens a file read-only with O_DIRECT, or fails with an
// error matching ErrRefused and saying why (the file system refuses direct
// I/O, as tmpfs does; or the platform has none), so that the caller can
// fall back to dropping the cache and say so. OpenFile does the same for a
// file already open, through that file (/proc/self/fd), not its path.
// Reader.ReadAt accepts any
// offset and length: it reads whole aligned blocks into its own aligned
// buffer and copies out. Reader.Stat describes the open file, so that a
// caller that opened the path before can check it is the same file. Alignment is 4096 bytes, which covers 512- and
// 4096-byte logical sectors.
package directio
