// Package compose is the kit workflow as a library: load a manifest and its
// lock, pin, fetch, plan, build an image, write devices, and prepare boot
// tests. The CLI is a thin shell over it: each verb is flags, one call, and
// rendering.
//
// Kit is the entry point:
//
//	k, err := compose.Load("multiboot.yaml", compose.Options{Fetch: fetch.Options{...}})
//	k.Lock(ctx)                        // pin every ISO, write NAME.lock only when it changed
//	k.Update(ctx, dryRun)              // move {version} pins to the newest release, report what moved
//	k.Fetch(ctx)                       // download and verify into the cache
//	k.Plan(ctx, image)                 // the Plan, from what the cache holds; writes nothing
//	k.Apply(ctx, ApplyOptions{...})    // pin if needed, refuse unsafe targets, fetch, plan,
//	                                   // check and confirm devices, build, verify, write devices
//	k.BootTest(ctx, TestOptions{...})  // the image and the BootCases to boot
//
// The lock lives beside the manifest and is named after it (config.LockPath);
// a lock written for another manifest is refused, never replaced. Apply
// refuses, before fetching, an image path whose replacement would destroy
// something (imagefile.ErrUnsafeImage: a file the manifest names, compared by inode,
// the cache, a file that is not a disk image…), an image directory it
// cannot write (imagefile.ErrImageDir), and devices that are unsafe or named twice.
// It opens the image path once, without following a symbolic link, and
// writes only through what it opened: a new image's temporary file is
// renamed into place relative to the directory it opened, and only over
// the file it checked (imagefile.ErrTargetMoved otherwise). It holds an flock on the
// image, or on a new image's temporary file, for the whole apply, so a
// second writer is refused (imagefile.ErrTargetBusy, naming the holder's PID); a
// device is written only when the node opened is the device checked;
// every ISO's bytes are hashed against the lock while placed
// (ErrBadCacheEntry names a cache entry that changed).
//
// A Plan is data: the downloads a kit needs, the partitions and files of the
// image, the menu entries with the way each ISO boots, and warnings. The
// same Plan value that `compose plan` prints is the one `compose apply` runs.
//
// ISOs are hostile input. Planning inspects each through compose/isoimage,
// every read bounded and the context checked at each: an ISO the ISO 9660
// reader cannot survive, or whose tree or Rock Ridge fields loop, is
// isoimage.ErrMalformedISO naming it and what is wrong; a panic in
// compose's own code on one is an error matching crash.ErrInternal, not a
// crash.
//
// This package joins config (what the user asked for), fetch (verified ISOs
// in a cache), compose/pin (a manifest's ISOs pinned into lock entries, and
// a lock checked against its sources), bootloader (GRUB files, BIOS boot code, ISO inspection,
// grub.cfg), compose/disk (the GPT/FAT32/ext4 writer), compose/converge
// (in-place change of an existing kit, its record), compose/isoimage
// (hostile ISOs read for inspection), compose/imagefile (the image path,
// opened once and locked) and compose/device (USB devices). Those know nothing of each other, and compose's API uses
// none of compose/disk's or compose/device's types: it has its own Event,
// Stick, DeviceResult, Machine and BootCase.
//
// compose does not import compose/boottest, the QEMU runner: Plan.BootCases
// and Kit.BootTest give plain BootCases (entry, menu position, title,
// config/firmware target, Secure Boot, marker, the default proof its payload's
// detection gives (the kernel banner, memtest86+, ipxe, payload output), the
// certificates on the stick that make it boot under Secure Boot once enrolled;
// TestRun.Volume names the ESP), and the caller (the CLI's test verb, the e2e
// suite) turns each into a boottest.Case with boottest.CaseOf and
// boottest.ParseProof and runs it. compose_test's deps test enforces the edge.
//
// An existing kit is converged rather than rebuilt: the plan reads the
// target once (compose/converge's ReadTarget: its record and drift checks)
// and holds the changes as Plan.Diff, with the record, files and menus
// (the interim ones of a two-step apply too) rendered for them; Apply
// reads the state record alone again, refuses a target whose record
// changed since (converge.ErrChanged), and hands exactly those to
// converge.Run. ApplyOptions.Verify then reads the kit
// whole (converge.Verify), as Verify does for `compose verify`.
//
// Persistence: an entry with persistence gets the storage
// bootloader.AssignPersistence gives it (a *bootloader.PersistenceError
// names the entry's manifest position) as its own ext4 partition at the
// end of the disk (compose/disk's Spec.Persist), its menu line the
// family's arguments, and the record the partition's place. A
// persistence partition holds the user's data: converging keeps it byte
// for byte with its GPT entry (Plan.Persistence says "keep"), a rewrite
// in full (Recreate) keeps every one still wanted at its offset, copying
// its bytes from the old image (refused on a device), and one removed or
// resized is discarded only when ApplyOptions.DiscardPersistence names it
// (ErrPersistenceData otherwise). ApplyOptions.ResetPersistence empties
// one after ConfirmReset agreed.
//
// Windows installers: an entry whose ISO is one (family windows) is not
// looped and its ISO is not put on the stick: Plan.Windows gives it a
// FAT32 partition of its own (compose/disk's Spec.Volumes) holding every
// file of the ISO's UDF side, streamed from the cached ISO when the
// image is built, an install.wim over FAT32's limit as .swm parts
// (compose/wim), and its unattend: file as /autounattend.xml; the menu
// starts the ISO's own loaders there (bootloader.Menu.Windows). An ESP
// file names each entry's ISO digest (and answer file), so adding,
// replacing or removing a Windows entry is a Diff.Recreate reason: such a
// partition is written only in full. A boot: override on one is refused.
//
// It prints nothing: progress leaves through callbacks (fetch.Options.Events
// for downloads, ApplyOptions.Progress for building and writing).
package compose
