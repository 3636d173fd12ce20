package fetch

import "golang.org/x/sys/unix"

// startWriteback asks the kernel to begin writing a range of fh to disk
// without waiting, so the fsync before the rename finds little left to do
// instead of flushing the whole ISO at the end.
func startWriteback(fd uintptr, off, n int64) {
	unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) // advisory: an error only costs speed
}
