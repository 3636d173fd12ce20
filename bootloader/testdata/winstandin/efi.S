# A stand-in for Windows' EFI loader (bootmgfw.efi / efi/boot/bootx64.efi) in
# compose's boot tests: a PE32+ EFI application for x86_64 that prints a marker
# through the firmware's ConOut (which OVMF mirrors to the serial port) and halts.
# Built with binutils only (see windowsboot_test.go, which rebuilds it and compares):
#   as --64 [--defsym SBAT=1] -o efi.o efi.S
#   ld -m i386pep --subsystem 10 -e efi_main --no-insert-timestamp -s -o {nosbat,sbat}-x64.efi efi.o
# Without SBAT it has no .sbat section, as Windows' bootmgfw.efi has none; with it,
# it carries one, as every binary shim loads itself must.
	.text
	.globl	efi_main
efi_main:				# (ImageHandle in rcx, SystemTable in rdx), MS x64 ABI
	sub	$40, %rsp		# shadow space; rsp 16-aligned at the call
	mov	64(%rdx), %rcx		# SystemTable->ConOut
	lea	marker(%rip), %rdx
	call	*8(%rcx)		# ConOut->OutputString(ConOut, marker)
1:	hlt				# boot services keep the timer running: hlt wakes on it
	jmp	1b

	.data
	.macro	utf16 s
	.irpc	c, \s
	.ascii	"\c"
	.byte	0
	.endr
	.endm
marker:					# CHAR16 "\r\nCOMPOSE-WINDOWS-EFI-STANDIN-{NOSBAT,SBAT}\r\n"
	.word	13, 10
	utf16	COMPOSE-WINDOWS-EFI-STANDIN-
.ifdef SBAT
	utf16	SBAT
.else
	utf16	NOSBAT
.endif
	.word	13, 10, 0

.ifdef SBAT
	.section .sbat, "a"
	.ascii	"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
	.ascii	"compose-standin,1,compose,compose-standin,1,https://github.com/usbkit/compose\n"
.endif
