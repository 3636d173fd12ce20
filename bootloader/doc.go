// Package bootloader makes a composed stick bootable: it provides the GRUB/shim files for the
// ESP, the legacy-BIOS boot code, the inspection that decides how each ISO boots, the
// Secure Boot signer check, and the generated grub.cfg.
//
// It knows nothing of the manifest or the image builder; callers translate into these inputs:
//
//   - ESPFiles(ESPOptions{Targets, SecureBoot, StickID}) → files to copy onto the FAT ESP
//     (/EFI/BOOT/*, the /EFI/debian/grub.cfg stub, the stick markers). The generated menu goes
//     to ConfigPath.
//   - BIOSInstall(firstLBA, sectors) → 440 bytes of boot code for LBA 0 (the caller keeps
//     bytes 440..511 of its protective MBR) and core.img to write at firstLBA of the BIOS boot
//     partition.
//   - Inspect(fsys, volumeLabel) → Detection for an ISO opened read-only as an fs.FS;
//     Resolve applies the manifest's Overrides (boot:, kernel:, initrd:, args:) on top. An
//     ISO's loopback.cfg is used only when its source/configfile chain stays in the ISO.
//     Detection has json tags and Lines() for `compose inspect`; its Warnings name entries
//     whose initramfs would not find the ISO; ErrNoBootLayout says what was found.
//   - CheckSecureBoot(fsys, Detection) → who signed the payload and whether Debian's shim
//     will run it.
//   - AssignPersistence([]PersistRequest) → each entry's Persistence: the ext4 label (stable,
//     from the entry's ID alone), GPT name, files and directories its family's initramfs needs,
//     and the kernel arguments; a *PersistenceError for a family without a contract or a
//     second casper entry. Overrides.Persistent passes an ISO's loopback.cfg over.
//   - Render(Menu, []Entry) → grub.cfg. Every string from a manifest or an ISO is quoted for
//     GRUB's script language; only commands built into Debian's signed GRUB and the BIOS
//     core.img are emitted. Each entry starts from the partition GRUB started on and has loop
//     devices of its own, released before they are made again. An Entry's Persistence
//     arguments follow its family's.
//
// The package prints nothing and touches no device.
package bootloader
