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
// once; a panic in one (a bug) fails that source with an error matching
// crash.ErrInternal. [Fetcher.Lookup] answers from the cache alone. [Fetcher.ResolveList]
// reads a GNU- or BSD-style checksum list, optionally OpenPGP-signed, and
// returns the digest it gives for one file, named as [ListName] says: its
// path relative to the list's directory, so that a line for a file of the
// same name in another directory never counts. [Fetcher.CheckList] does the
// same for checking a lock already pinned: one short try, and when the
// server cannot be reached (or Offline) the copy kept in <dir>/lists/ (by
// SHA-256 of the URL) when the list, signature or key was last read.
// [Fetcher.NewestVersion] resolves a URL's {version} to the newest version
// a config/version constraint admits: from the names in the checksum list
// (after its signature is checked) or, with the placeholder in a directory,
// from the parent's index page ([ParseIndex]: Apache, nginx and lighttpd
// autoindex pages; any other page is [ErrNotIndex]); no match, an unmet
// constraint ([ErrNoVersion]) and two names of one version are errors.
// [Fetcher.Size] tells a source's size without downloading it (its cache
// entry's, a local file's, or a HEAD answer's; 0 when the server does not
// say). Options.NoDownload takes ISOs from the cache only but still reads
// lists.
//
// The cache holds <dir>/<alg>/<digest> (read-only, verified) and
// <dir>/<alg>/<digest>.partial (an unverified prefix being downloaded,
// locked with flock while in use, so two processes never write one file).
// The .partial's lock is the entry's: every change of the entry's name (a
// rename into place, the removal of a bad entry) is made under it, so
// processes sharing a cache never remove a good file another one just put
// there, and one that waits for the lock says so (a Wait event naming the
// holder's pid, read from /proc/locks on Linux). Readers take no lock: an
// entry is never rewritten in place, a bad one is replaced by renaming
// the new download over it (removed only offline, or when the download
// fails), so a reader keeps the file it opened and one opening the entry
// finds the old file or the new one, never a gap.
// Bytes are hashed as they arrive; a resumed download hashes the kept prefix
// once and then only the new bytes, so no file is read twice. A file gets
// its final name only by rename after the digest matched and the data was
// synced: a crash or Ctrl-C leaves at most a .partial, which the next run
// resumes. A mismatch deletes the .partial and fails with
// [ErrChecksumMismatch] carrying both digests; Offline misses fail with
// [ErrNotCached]. [Fetcher.List] lists the entries and .partial downloads;
// [Fetcher.Prune] removes those its rules select (age, not referenced),
// each under its .partial's lock taken without waiting, so an entry
// being downloaded, checked or replaced is skipped.
//
// # Trusting the cache
//
// The cache directory and its <alg> directories must belong to the
// effective user and be writable by nobody else; New refuses others,
// saying why, and every use of the cache (Fetch, a hit included, Lookup,
// Open, Verify, Refetch) checks both again before it reads or removes
// anything, since either may have changed meanwhile. No cache path is followed through a symlink: entries
// are checked with Lstat and opened with O_NOFOLLOW, and only regular files
// count. Every lookup checks the type and, when the Source has one, the
// size; Options.Rehash, [Fetcher.Verify] and the caller's own hashing
// (then [Fetcher.Refetch], which hashes the entry again under its lock in
// case another process replaced it meanwhile) catch an entry rewritten in
// place. A bad entry is [ErrBadEntry]: it is fetched again, or removed and
// refused when Offline.
// A download is capped at the Source's size, or at Options.MaxSize
// (default 64 GiB, $COMPOSE_MAX_DOWNLOAD) when no size is known yet.
//
// Network failures that may pass (connection reset, truncated body, 5xx,
// 408, 429, no byte for Options.IdleTimeout) are retried with exponential
// backoff. A 4xx answer (404 included), a refused redirect and a
// certificate error are not; nor is a refused connection or an unknown
// host, which fail at once as [ErrUnreachable] naming the host. An attempt that made progress does not count against
// Options.Retries. There is no total timeout: a slow but moving transfer is
// never killed. Progress goes out through Options.Events (never printed).
//
// # What go-getter does here
//
// go-getter v2 (v2.2.5) dispatches every source: one Client per Fetcher
// (getters.go) detects it (an absolute path, file://, http(s)://, s3://,
// the forced "s3::"), picks the getter and calls it, once per attempt.
// Its getters are compose's resumable HTTP getter and SigV4 S3 getter,
// which implement go-getter's Getter interface and download into the
// locked .partial the attempt carries in its context, and go-getter's
// FileGetter, asked for a local file in place (Inplace): it checks the
// source and hands back its path, and the copy into the cache is made
// here with the hash taken on the way. FileGetter's Copy mode is not used:
// it removes and recreates the destination, which would put a new file
// under the locked .partial's name, and it has no progress hook, so the
// digest would cost a second read of every byte. The Client has no
// decompressors (an .iso.xz is not unpacked) and DisableSymlinks. What
// go-getter would read as its own syntax rather than as the file's
// address is refused when the source is checked: '//' in a path (a
// subdirectory to extract) and ?checksum=, ?archive=, ?filename=. No other
// scheme has a getter, so no git or hg ever runs. Checksum lists,
// signatures and keys are small files read by getSmall, not sources.
//
// The HTTP getter is compose's own because v2's HttpGetter fails these
// cases of the fault suite (TestGoGetterV2HTTP re-runs the suite through
// it and fails when that list changes):
//   - "ranges advertised, 200 answered": it decides to resume from a HEAD
//     answer and never looks at the GET status, so a whole 200 body is
//     appended to the prefix;
//   - "206 with wrong Content-Range": the answer is written at the offset it
//     asked for, whatever range came back;
//   - "500 twice" and "500 forever": HTTP errors come back as the string
//     "bad response code: N", so 503 (retry) cannot be told from 404 (stop).
//   - "announced size differs": a Content-Length short of the pinned size
//     is not refused, so every attempt "makes progress" and it never stops.
//
// It also has no idle timeout (ReadTimeout bounds the whole transfer).
//
// s3 has no getter in v2's root module (its S3 module is not on the module
// proxy, and v1's pulled in the AWS, Google Cloud, gRPC and OpenTelemetry
// SDKs: two thirds of the binary). s3://bucket/key and
// s3::http(s)://endpoint/bucket/key are plain GETs signed with AWS
// Signature Version 4 (s3.go), sent through the http path, so they resume
// and retry the same way. Credentials come from the URL or the
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN variables;
// profiles and instance metadata are not read.
package fetch
