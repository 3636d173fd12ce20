// Package config reads, validates and writes compose's two files: the
// manifest multiboot.yaml (what goes on the stick) and the lock
// multiboot.lock (what each ISO resolved to). It does no I/O beyond reading
// and writing those files and prints nothing.
//
// Loading is strict and collects every problem at once. Load/Parse (and
// LoadLock/ParseLock) decode into a yaml.Node tree and walk it, so unknown
// fields at any depth, duplicate keys, wrong scalar types (a number where a
// string belongs: quote it), a second YAML document and empty input are all
// errors, each a Diagnostic "file:line:col: field.path: message". An invalid
// file yields Diagnostics, sorted by position, which matches ErrInvalid;
// an unreadable file yields an ordinary wrapped error (fs.ErrNotExist …).
// YAML syntax errors carry only a line from the parser; their column is
// the line's first non-blank character.
//
// A returned *Manifest is final: defaults filled in, label upper-cased,
// digests lower-cased, fingerprints upper-cased without spaces, local paths
// resolved (ISO.LocalPath, Key.LocalFile). Manifest.Positions and ISO.Pos
// keep source positions so later stages can report against the manifest
// with (*Manifest).Diag("isos[2].url", …). Validation is static: nothing is
// downloaded and local files need not exist yet.
//
// API:
//
//	Load(path) / Parse(name, data, dir)   manifest; path "-" reads stdin as "<stdin>"
//	LoadLock(path) / ParseLock(name, data) lock file, same strictness
//	(*Lock).Marshal()                      deterministic YAML, ISOs sorted by name
//	WriteLock(path, lock)                  validate, then temp file + fsync + rename
//	(*Lock).Validate()                     rules of ParseLock for a lock built in memory
//	(*Lock).Check(manifest)                *StaleLockError (ErrStaleLock) listing drift
//	(*ISO).Lock(alg, digest, size)         lock entry for an ISO, Source = Checksum.Spec()
//	Schema()                               embedded JSON Schema (draft 2020-12)
//	Starter()                              commented, valid multiboot.yaml for `compose init`
//	ParseSize(s)                           "auto", 16GiB, 512MiB, 8GB …
//	ParsePersistence(s) / ValidName(s)     persistence: sizes (no auto); entry names
//
// ISO.Persistence is the entry's persistence size in bytes (0: none). The loader refuses
// it with an explicit boot: outside PersistentFamilies and on a second boot: casper
// entry; a detected family is the caller's to check (bootloader.AssignPersistence).
//
// The JSON Schema is for editors; the loader is the authority (the schema
// cannot check unique names, menu.default or secure_boot needing uefi-x64 or uefi-arm64).
// A test keeps the Go types, the loader's field tables and the schema in
// step. The field reference is in README.md ("The manifest").
package config
