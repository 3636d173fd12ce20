// Package wim reads Windows Imaging (WIM) files and splits one into SWM
// parts small enough for FAT32, in Go, with no external tool.
//
// ReadInfo reads a WIM's (or one SWM part's) 208-byte header and its XML
// data (UTF-16LE): compression kind, solid (ESD) or not, part number and
// total parts, GUID, and per image its index, names, edition, architecture,
// sizes and file counts. ReadBlobTable reads the lookup table. Their input
// is hostile: every offset is checked against the file's size, the XML
// and the lookup table are bounded (MaxXMLSize, MaxImages,
// MaxBlobTableSize), and bad input is an error wrapping ErrNotWIM,
// ErrMalformed or ErrUnsupported, never a panic.
//
// PlanSplit plans splitting a WIM into parts of at most a given size
// (MaxFAT32File for FAT32) named as Windows Setup looks for them:
// install.swm, install2.swm, … The rules are the WIM format's, as wimlib
// and Windows write split WIMs:
//
//   - every part is a WIM: a header with the source's GUID (kept, so that
//     the same source always gives the same parts), its part number and
//     the total, the source's compression flags and chunk size, the
//     spanned flag (set when there is more than one part), and the image
//     count; a split set has no boot image (boot index 0), as in wimlib,
//     and a single part keeps the source's, pointing at its own copy;
//   - resources are copied whole and unchanged (compressed resources are
//     self-contained), file data in the source's order; part 1 holds every
//     image's metadata resource (after its file data, where wimlib puts
//     them), the other parts only file data;
//   - each part's lookup table lists only the resources in that part, at
//     their new offsets, with that part's number; part 1 lists the
//     metadata resources first, in image order;
//   - each part carries the source's XML data, unchanged;
//   - each part has an integrity table (SHA-1 per 10 MiB from the end of
//     the header to the end of its lookup table) when the source has one.
//
// The source's lookup table is read as wimlib reads real WIMs: entries
// readers ignore (duplicate hashes, unreferenced metadata, all-zero
// hashes, empty blobs, another part's entries) are left out of the parts;
// the metadata entries and the XML's images must match the header's image
// count.
//
// A part's size counts all of it (header, resources, lookup table, XML,
// integrity table) and never exceeds the limit. Refused, with ErrUnsupported
// and the reason: solid WIMs (ESDs, LZMS; their resources hold many files
// each), WIMs already split, and WIMs with a resource or metadata too large
// for one part.
//
// A SplitPlan holds no file data: each Part is a list of Pieces (a byte
// range of the source, generated header or lookup table bytes, or the
// integrity table) with its exact size known before anything is written,
// so a caller can allocate the parts on a file system first and then
// stream them. WritePart streams one part to an io.Writer, reading the
// source front to back (resources that lie back to back are one read)
// into two 4 MiB buffers, one read while the other is written; when the
// source and the target are files and no integrity table needs the bytes,
// the kernel copies them (copy_file_range). WritePartAt does the same
// into an io.WriterAt at an offset (a part's extent in an image file, with
// the kernel copy when that is an *os.File, and the source an *os.File
// or an io.SectionReader of one: a WIM inside an ISO). Split writes all parts to a
// directory, each through a synced temporary file renamed into place,
// removing every part it wrote if one fails.
//
// It prints nothing.
package wim
