// Package isoimage opens ISO 9660 images for inspection, treating each as
// hostile input. Open checks the primary volume descriptor itself, then
// hands the file to go-diskfs's iso9660 reader behind a guard: every call
// into that reader is bounded (reads per call, bytes per call, bytes per
// read) and checks the context, and a panic in it becomes an error naming
// the ISO (ErrMalformedISO), never a crash. Image is an fs.FS the
// bootloader package's inspection reads; Image.Failed says whether the
// reader failed while it was used. Inspect is `compose inspect`: how an
// ISO boots and who signed its payload; InspectPersistent adds the storage and
// kernel arguments `persistence:` would give an entry of it.
//
// Only regular files are opened (a FIFO cannot block it); messages name an
// ISO as the caller does (the manifest's name, never a cache path). It
// writes nothing and prints nothing.
package isoimage
