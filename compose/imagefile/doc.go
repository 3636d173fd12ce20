// Package imagefile holds an image path for the length of a plan or an
// apply, so that what was checked is what is written. Open opens the
// path's directory once and the file there without following a symbolic
// link, refuses what must not be replaced (a file the caller names, the
// compose program, anything under /dev, /proc or /sys, an existing file
// that is not a disk image, an image attached to a loop device in use:
// ErrUnsafeImage), and locks it with flock against other composes
// (ErrTargetBusy, naming the holder). A new image is built in a locked
// temporary file beside it and renamed into place relative to the open
// directory, never over a file that appeared meanwhile (ErrTargetMoved);
// stale temporaries of killed applies are collected. A directory that is
// missing or cannot be written is ErrImageDir. It prints nothing.
package imagefile
