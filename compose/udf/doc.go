// Package udf reads UDF file systems (ECMA-167 as profiled by OSTA UDF
// 1.02 to 2.60) from an image, treating every byte as hostile. It is what
// compose reads Windows installer ISOs with: oscdimg writes them as UDF
// (1.02, or 2.01 bridged with an ISO 9660 side that holds only a README).
//
// Open finds an anchor volume descriptor pointer (block 256, then the last
// block, then N-256; block sizes 2048, 512, 1024 and 4096 are tried), reads
// the volume descriptor sequence (main, then reserve) and the file set
// descriptor, and returns an FS: an fs.FS, fs.ReadDirFS and fs.StatFS whose
// files are io.ReaderAt and io.Seeker too. Supported: type 1 partition
// maps and the metadata partition of UDF 2.50+ (falling back to its mirror),
// file entries and extended file entries with ICB strategy 4, short, long
// and extended allocation descriptors with continuation extents, data
// embedded in the entry, unrecorded (sparse) extents read as zeros, files
// of any size in many extents, OSTA compressed unicode (8 and 16 bit).
// Virtual (VAT) and sparable partitions, strategy 4096 and named streams
// are refused or ignored: no Windows installer ISO has them.
//
// Every read is bounded: each structure's size, each directory (maxDir),
// each file's extents (maxExtents), each continuation chain, the volume
// descriptor sequence; a context cancels any read. A malformed image is an
// error matching ErrMalformed that says what and where, never a panic or an
// unbounded loop; FuzzOpen checks that. It writes nothing and prints nothing.
package udf
