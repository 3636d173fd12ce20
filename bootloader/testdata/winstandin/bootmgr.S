# A stand-in for Windows' BIOS boot manager (bootmgr) in compose's boot tests: real-mode
# code that GRUB's `ntldr` loads at 2000:0000 and jumps to (DS = 0, DL = the boot drive),
# as a Windows volume boot record would. It prints a marker on COM1 (GRUB left it set up)
# and the screen (BIOS teletype), then halts. Unlike a real bootmgr it never looks for
# its partition (hidden sectors, the MBR): it proves GRUB's chain, not that.
# Built with binutils only (windowsboot_test.go rebuilds it and compares):
#   as --64 -o bootmgr.o bootmgr.S
#   ld -m elf_x86_64 -Ttext=0 -e start --oformat=binary -o bootmgr bootmgr.o
	.code16
	.text
	.globl	start
start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds		# the marker is addressed from offset 0 of this file
	mov	$marker, %si
	cld
next:
	lodsb
	test	%al, %al
	jz	done
	mov	%al, %cl
	mov	$0x3fd, %dx		# COM1 line status: wait for an empty transmit register
1:	in	%dx, %al
	test	$0x20, %al
	jz	1b
	mov	$0x3f8, %dx
	mov	%cl, %al
	out	%al, %dx
	mov	$0x0e, %ah		# BIOS teletype: AL = character, BH = page 0
	xor	%bx, %bx
	int	$0x10
	jmp	next
done:
	hlt
	jmp	done

marker:
	.ascii	"\r\nCOMPOSE-WINDOWS-BOOTMGR-STANDIN\r\n\0"
