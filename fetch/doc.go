// Package fetch downloads ISO images into a content-addressed cache and
// verifies them against a pinned digest, over networks that drop, stall and lie.
//
// # Contract
//
// A [Source] names one file: a URL (http, https, s3) or an absolute local
// path, an algorithm ("sha256" or "sha512"), a lowercase hex digest and,
// when known, the size. [Fetcher.Fetch] returns the path of a file in the
// cache whose bytes hash to that digest, or an error naming the source, the
// URL and the cause. [Fetcher.FetchAll] runs up to Options.Jobs fetches at
// once. [Fetcher.Lookup] answers from the cache alone. [Fetcher.ResolveList]
// reads a GNU- or BSD-style checksum list, optionally OpenPGP-signed, and
// returns the digest it gives for one file name.
//
// The cache holds <dir>/<alg>/<digest> (read-only, verified) and
// <dir>/<alg>/<digest>.partial (an unverified prefix being downloaded,
// locked with flock while in use, so two processes never write one file).
// Bytes are hashed as they arrive; a resumed download hashes the kept prefix
// once and then only the new bytes, so no file is read twice. A file gets
// its final name only by rename after the digest matched and the data was
// synced: a crash or Ctrl-C leaves at most a .partial, which the next run
// resumes. A mismatch deletes the .partial and fails with
// [ErrChecksumMismatch] carrying both digests; Offline misses fail with
// [ErrNotCached].
//
// Network failures that may pass (connection reset, truncated body, 5xx,
// 408, 429, no byte for Options.IdleTimeout) are retried with exponential
// backoff (a refused redirect, a certificate error or an unknown host is
// not); an attempt that made progress does not count against
// Options.Retries. There is no total timeout: a slow but moving transfer is
// never killed. Progress goes out through Options.Events (never printed).
//
// # Why go-getter does not do http, https or local files here
//
// go-getter v1.8.10 is used for s3 sources only, through a client built per
// attempt: its own Getters map holding nothing but s3, an empty non-nil
// Decompressors map (no unpacking of .iso.xz), no detectors, Mode file, and
// a ProgressTracker whose reader hashes the stream and feeds the idle
// watchdog. No HttpGetter or git/hg getter exists in that map, so no netrc
// read and no other scheme can ever run through it; S3 transfers restart
// from zero on retry (go-getter truncates the destination).
//
// Its HttpGetter cannot meet this package's requirements, so http and https
// use net/http directly:
//   - It decides to resume from a HEAD answer and then never looks at the GET
//     status: a server that advertises ranges but answers 200 gets its whole
//     body appended to the prefix, and a 206 with another Content-Range than
//     asked is written at the wrong offset. Neither is visible to a tracker.
//   - A stale destination of the full size counts as done; the destination is
//     opened without O_TRUNC, so a longer stale file keeps its tail.
//   - HTTP errors come back as the string "bad response code: N", so 404
//     (fail now) and 503 (retry) cannot be told apart without parsing text.
//   - ReadTimeout bounds the whole transfer, not idle time.
//
// Its FileGetter with Copy has no progress hook, so the digest could only be
// computed by reading the copy again; local files are copied here with the
// hash taken on the way.
package fetch
