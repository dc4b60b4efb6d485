/* boot.S - the Multiboot header and the entry point of a kernel written in C (kernel.c).
   A Multiboot loader (minivisor's, QEMU's -kernel, GRUB) enters _start in 32-bit protected
   mode with paging off, EAX = 0x2BADB002 and EBX = the Multiboot information. */
        .set MAGIC, 0x1BADB002
        .set FLAGS, 0
        .section .bss
        .align 16
stack:  .skip 16384
stack_top:

        /* First in .text, and boot.S first on the link line: the header must lie in the
           file's first 8 KiB. */
        .section .text
        .align 4
        .long MAGIC, FLAGS, -(MAGIC + FLAGS)
        .global _start
_start:
        mov $stack_top, %esp
        push %ebx               /* kmain(magic, info) */
        push %eax
        call kmain
1:      cli
        hlt
        jmp 1b

        .section .note.GNU-stack, "", @progbits  /* no executable stack (ld asks) */
