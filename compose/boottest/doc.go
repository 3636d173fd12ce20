// Package boottest boots a compose disk image in QEMU: interactively for
// `compose boot`, and headless for `compose test`, where each menu entry is
// booted on each firmware target, one at a time, and judged from the serial
// console.
//
// QEMU machine variants (Variant) carry the manifest's firmware names, with
// "-sb" when Secure Boot is enforced: bios (SeaBIOS), uefi-x64, uefi-x64-sb
// (OVMF with the Microsoft + Debian keys), uefi-ia32, uefi-arm64,
// uefi-arm64-sb (AAVMF); ParseVariant also takes the older uefi and
// uefi-sb, For maps a kit's config/firmware target to its variant. A VM is
// one QEMU run of an image on a variant. Locate finds QEMU and the
// firmware files in the Debian locations; when something is missing the error is a *MissingError
// (errors.Is(err, ErrNotInstalled)) naming the Debian packages to install.
// The image is attached with snapshot=on, so it is never modified, unless
// VM.Writable (Runner.Writable) asks for the guest's writes to stay: a
// persistence proof boots one image twice.
//
// One launcher: every QEMU a test boot starts goes through Start (compose
// test's Runner, the MokManager driver, the KVM probe, and other packages'
// tests, which use Guest.Expect: wait for wanted lines or a failure
// pattern, typing keys when a pattern shows, with a deadline). A Guest is
// headless: no display, no reboot, the serial console on a socket
// (Guest.Console, copied to a log), QEMU's own output in another, and with
// GuestOptions.Screen QEMU's monitor (QMP) for reading the VGA text screen
// (Guest.Screen: pmemsave of the 80×25 cells at 0xB8000).
//
// Accelerator (Accel): AccelAuto uses KVM for a kind of firmware (SeaBIOS,
// OVMF x64 with or without Secure Boot, OVMF ia32, AAVMF) only where
// /dev/kvm opens for the guest's architecture and KVM passed a probe for
// that kind, once per process: SeaBIOS boots a 4 KiB image (kvmprobe/,
// assembled from probe.S beside it) that reads the disk through the BIOS,
// works in real mode, 32-bit protected mode and long mode with paging and
// SSE, takes timer interrupts, and prints "compose-kvm-probe: done" on COM1;
// OVMF and AAVMF, which run in long mode with paging themselves, must reach
// their boot manager's "BdsDxe:" line without a disk. The probe must pass
// within seconds (8 s SeaBIOS, 15 s UEFI): a KVM that emulates instead of
// running the guest (nested, without unrestricted guest) misses it, one that
// fails makes QEMU report an internal error. QEMU's stderr is watched: a
// boot ends as soon as QEMU exits or reports that it cannot run the guest
// ("KVM internal error … emulation failure" leaves QEMU waiting forever),
// with QEMU's words in Result.Detail. A boot under KVM that shows nothing new
// on serial or screen for 25 s (90 s once the kernel started) ends as
// ReasonStalled. Under AccelAuto a
// boot KVM fails or stalls runs again under TCG, and that kind stays on TCG
// for the process. Result.Accel says what ran, Result.KVMError why TCG ran
// where auto would have used KVM, Runner.KVMBroken the reasons once per
// kind. On x86 the CPU is QEMU's default model under KVM too ("-cpu host"
// aborts where KVM cannot set the host model's MSRs).
//
// QEMU never outlives its caller: it gets Pdeathsig (SIGKILL when the
// caller's process dies), a headless QEMU runs in its own process group,
// killed whole when the boot ends or ctx is cancelled.
//
// Interactive: RunInteractive(ctx, VM, Display, Stdio, onFallback)
// runs QEMU on the user's terminal (a window, or serial on stdio with
// DisplaySerial) until it exits, with the same probe and KVM fallback;
// InteractiveCmd returns the bare *exec.Cmd and a cleanup func.
//
// Headless: Runner{Image, LogDir, OnEvent}.Boot(ctx, Case) returns a
// Result; RunAll runs cases in order, Matrix crosses entries with
// firmware, WriteTable renders results as plain text (Result marshals to
// JSON as is). Boot's error is only for what stops every boot (QEMU or
// firmware missing, log directory unwritable); a guest that fails is a
// Result with Pass false, a Reason, the serial line behind it (Detail) and
// an Explanation with the remedy. A Case with ExpectFail passes only when
// it fails for that reason ("xfail": failed as expected).
//
// Proofs: a Case's Marker (the manifest's expect:) proves the boot; without
// one, its Proof, the payload's family default, named by the planner from
// its detection of the ISO: the Linux banner (ProofKernel), memtest86+'s
// screen (ProofMemtest: its header or status block), iPXE's banner
// (ProofIPXE; iPXE that finds no network and returns to GRUB has booted),
// or the first output of an unknown EFI or BIOS payload that is not GRUB's
// or the firmware's (ProofPayload). Proofs are matched only after the entry
// started, on serial and on the screen; Result.Proof (expect, family
// default, kernel banner), Payload, Matched and MatchedOn say which proof
// passed the case and what showed it. A case ends as soon as its proof
// shows.
//
// The screen: under SeaBIOS, memtest86+ and iPXE draw only on the VGA text
// screen. The Runner reads it every 500 ms while a bios case runs: lines
// shown before the entry started (the firmware's, GRUB's, the menu, read
// once more as Enter is typed) never count; each later line is judged
// once, for the proof and for failures; a changed screen counts as output
// for the stall rule; every screen is kept in
// LogDir/<firmware>-<entry>.screen.txt (Result.ScreenLog).
//
// How an entry is selected without touching the image: the kit's grub.cfg
// puts GRUB's terminal on serial (serial --unit=0 --speed=115200;
// terminal_input serial console; terminal_output serial console) and has a
// menu timeout. When the menu footer appears on serial, the runner presses
// one GRUB menu key at a time — '^' first, which also stops the countdown,
// then on in one direction — each once the console has gone quiet, reading
// the entry GRUB draws as selected ("*title") after every key, and presses
// Enter when it is Entry.Title. The direction turns when three keys in a row
// leave the highlight where it was (an end of the menu, or lost keys); after
// 80 keys it gives up as "wrong entry". Counting keys is not enough: on UEFI
// the firmware and GRUB both read the UART, and under load single bytes get
// lost. '^' and 'v' are single-byte GRUB menu bindings; arrow keys are escape
// sequences that can be split. Without a Title (or with Runner.Keys) the
// runner types counted key groups instead (MenuKeys).
// GRUB's hotkeys were not used: they need the generated menu to declare
// them. A nested menu (an ISO's loopback.cfg) gets Enter for its default.
//
// Milestones, in order: firmware (OVMF/AAVMF "BdsDxe"; SeaBIOS's banner on
// the screen), grub menu, booting entry (Enter typed, or GRUB's "Booting
// `…'" on autoboot), kernel started ("Linux version"), payload marker
// (Case.Marker or a family default other than the kernel banner, matched
// only after the entry started, never in menu titles). With the kernel
// banner as proof "kernel started" is the bar. Fail-fast lines:
// "bad shim signature" (kernel not signed by a trusted key), "Access
// Denied" (bootloader not signed), "Kernel panic", live-boot/dracut giving
// up on the root, "No bootable device", and GRUB's "error: " until the
// kernel starts. Each boot's serial output is kept in
// LogDir/<firmware>-<entry>.log, QEMU's own output in .qemu.log, the
// screens under SeaBIOS in .screen.txt.
//
// Secure Boot enrolment: Runner.Enrol boots the kit's "MOK manager" entry and drives
// MokManager over the serial console to enrol certificates (and hashes) from the stick,
// returning the variable store it wrote. The driver reads each screen by what it says
// (the newest menu box's items and the highlighted one, from the colours), moves one key
// at a time and presses Enter only on the item it wants, re-sends a key the screen did not
// react to, finds its way back from any screen, and stops at Enrolment.Timeout. RunAll
// uses it: a case on a Secure Boot machine that shim refuses as it is
// (ReasonPayloadNotSigned) and whose Case.Enrol lists keys the stick carries
// (Runner.Volume names the stick's ESP) gets them enrolled, once per firmware per run,
// and is booted again from that store; Result.Enrolment says what was needed and done,
// and a failed enrolment fails the case (ReasonEnrolment).
//
// Library: prints nothing; progress goes to Runner.OnEvent.
package boottest
