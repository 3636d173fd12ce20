# The KVM probe: a disk image SeaBIOS boots like a kit's MBR. It does what
# GRUB and a Linux kernel do first, with a fixed amount of work in each mode,
# and reports each step on COM1:
#   real mode: BIOS disk reads (int 13h, as GRUB's loader), a work loop;
#   32-bit protected mode without paging (GRUB's decompressor), a work loop;
#   long mode with 4-level paging, SSE, a work loop, then the 8259 PIC and the
#   8254 PIT delivering timer interrupts that wake the CPU from hlt.
# The last line, "compose-kvm-probe: done", is the marker. A KVM that
# emulates instead of running the guest (a nested KVM without unrestricted
# guest support) misses the deadline in real mode; one that fails outright
# makes QEMU report an internal error.
#
# Build (compose/boottest's TestKVMProbeImage checks the committed bytes):
#   as --64 -o probe.o probe.S
#   ld -m elf_x86_64 -Ttext=0x7c00 -e start --oformat=binary -o probe.img probe.o
	.set COM1, 0x3f8
	.set PML4, 0x10000
	.set PDPT, 0x11000
	.set PD,   0x12000
	.set IDT,  0x13000
	.set WORK, 0x400000
	.set TICKS, 50
	.set SECTORS, 7
	.text
	.globl start
	.code16
start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	push %dx			# the boot drive, from the BIOS
	mov $msg_real, %si
	call puts16
	pop %dx
	mov $dap, %si			# read sectors 1.. to 0x7e00: int 13h, extended read
	mov $0x42, %ah
	int $0x13
	jc diskerr
	jmp stage2
diskerr:
	mov $msg_disk, %si
	call puts16
1:	hlt
	jmp 1b
puts16:
	lodsb
	test %al, %al
	jz 2f
	mov $COM1, %dx
	out %al, %dx
	jmp puts16
2:	ret
	.balign 4
dap:
	.byte 16, 0
	.word SECTORS
	.word 0x7e00, 0
	.quad 1
msg_real:	.asciz "compose-kvm-probe: real mode\n"
msg_disk:	.asciz "compose-kvm-probe: disk read failed\n"
	.org 510
	.word 0xaa55

stage2:
	mov $WORK, %ecx
3:	add %ecx, %eax
	dec %ecx
	jnz 3b
	lgdt gdtr
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmp $0x08, $pm32

	.code32
pm32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %esp
	mov $msg_pm, %esi
	call puts32
	mov $WORK, %ecx
4:	add %ecx, %eax
	dec %ecx
	jnz 4b
	mov $PML4, %edi			# identity-map the first 2 MiB
	xor %eax, %eax
	mov $4096, %ecx
	rep stosl
	movl $PDPT + 3, PML4
	movl $PD + 3, PDPT
	movl $0x83, PD
	mov %cr4, %eax
	or $0x620, %eax			# PAE, OSFXSR, OSXMMEXCPT
	mov %eax, %cr4
	mov $PML4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		# EFER.LME
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	and $0xfffffffb, %eax		# no x87 emulation (SSE)
	or $0x80000002, %eax		# paging, monitor coprocessor
	mov %eax, %cr0
	ljmp $0x18, $lm64
puts32:
	lodsb
	test %al, %al
	jz 5f
	mov $COM1, %dx
	out %al, %dx
	jmp puts32
5:	ret

	.code64
lm64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7c00, %rsp
	mov $WORK, %ecx
	pxor %xmm0, %xmm0
	movq %rcx, %xmm1
6:	paddq %xmm1, %xmm0
	add %rcx, %rax
	dec %ecx
	jnz 6b
	mov $msg_lm, %esi
	call puts64
	mov $IDT + 0x20 * 16, %edi	# vector 0x20: the timer
	mov $irq0, %eax
	mov %ax, (%rdi)
	movw $0x18, 2(%rdi)
	movw $0x8e00, 4(%rdi)
	shr $16, %eax
	mov %ax, 6(%rdi)
	movq $0, 8(%rdi)
	lidt idtr
	mov $0x11, %al			# PIC: IRQ 0-7 at vector 0x20, only IRQ 0 unmasked
	out %al, $0x20
	out %al, $0xa0
	mov $0x20, %al
	out %al, $0x21
	mov $0x28, %al
	out %al, $0xa1
	mov $4, %al
	out %al, $0x21
	mov $2, %al
	out %al, $0xa1
	mov $1, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xfe, %al
	out %al, $0x21
	mov $0xff, %al
	out %al, $0xa1
	mov $0x34, %al			# PIT channel 0, rate generator, 1 kHz
	out %al, $0x43
	mov $1193 & 0xff, %al
	out %al, $0x40
	mov $1193 >> 8, %al
	out %al, $0x40
	sti
7:	hlt
	cmpl $TICKS, ticks
	jb 7b
	cli
	mov $msg_done, %esi
	call puts64
8:	hlt
	jmp 8b
irq0:
	push %rax
	incl ticks
	mov $0x20, %al
	out %al, $0x20
	pop %rax
	iretq
puts64:
	lodsb
	test %al, %al
	jz 9f
	mov $COM1, %dx
	out %al, %dx
	jmp puts64
9:	ret

	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	# 0x08: 32-bit code
	.quad 0x00cf92000000ffff	# 0x10: data
	.quad 0x00209a0000000000	# 0x18: 64-bit code
gdtr:
	.word gdtr - gdt - 1
	.long gdt
	.balign 8
idtr:
	.word 0x21 * 16 - 1
	.quad IDT
ticks:	.long 0
msg_pm:	.asciz "compose-kvm-probe: protected mode\n"
msg_lm:	.asciz "compose-kvm-probe: long mode\n"
msg_done:	.asciz "compose-kvm-probe: done\n"
	.org 4096
