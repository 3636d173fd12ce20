// Package pin resolves a manifest's ISOs into lock entries and checks a
// lock against the sources it was made from.
//
// Contract:
//   - PinLock (and ResolveLock, which also fetches) pins each ISO from
//     what is already known: an inline digest or the vendor's checksum list
//     (its OpenPGP signature checked), the size from the cache or a HEAD
//     request. Only a `path:` ISO (a local copy, verified) and one whose
//     server does not say its size are fetched while pinning.
//   - A url with {version} is resolved by Update (and by PinLock when no
//     entry pins it yet) to the newest version its `version:` constraint
//     admits (fetch.NewestVersion: the checksum list's names, its
//     signature checked first, or the parent's directory index); PinLock
//     keeps the version of an entry that still pins the manifest, so a
//     lock never moves a release. Sources and the list checks use the
//     lock's URL, at its version.
//   - CheckListedDigests compares a lock's digests with the vendors' lists
//     (read when reachable, else the copy fetch keeps); a disagreement is a
//     config.Diagnostics at the lock's digest line, an unread list a warning.
//   - CheckLockedSizes and LockedSizeErrors hold the lock's sizes against
//     the cache and what a fetch found; CheckPaths refuses a `path:` ISO
//     that is missing or not a regular file.
//   - Every failure about one ISO is a *SourceError at the manifest's
//     FILE:LINE:COL of that entry's field, with a hint.
//
// pin prints nothing and imports only config and fetch of this module.
package pin
