; Exercise 07: a process in ring 3 that asks the kernel for service with int 0x80.
%include "boot32.inc"

SYS_WRITE equ 1                 ; EBX: a zero-terminated string
SYS_EXIT  equ 2                 ; EBX: the exit code

main:
        ; The IDT's gate for int 0x80 (a 32-bit interrupt gate to the kernel's `syscall`).
        mov eax, syscall
        mov edi, idt + 8 * 0x80
        mov [edi], ax
        mov word [edi + 2], CODE_SEL
        mov word [edi + 4], 0x8E00      ; present, 32-bit interrupt gate, DPL 0
        ; TODO: with DPL 0, INT 0x80 from ring 3 is a #GP: give the gate the DPL that lets
        ; ring 3 use it.
        shr eax, 16
        mov [edi + 6], ax
        lidt [idt_descriptor]

        ; TODO: the TSS: the ring-0 stack the CPU switches to on an interrupt from ring 3
        ; (tss + 4: ESP0 = kernel_stack_top, tss + 8: SS0 = DATA_SEL); its descriptor in
        ; gdt_tss (base tss, limit 103, type 89h: present, DPL 0, available 32-bit TSS);
        ; then LTR with TSS_SEL.

        ; TODO: enter ring 3 at user_main: IRETD with, from the top of the stack down, EIP,
        ; CS (USER_CODE), EFLAGS, ESP (user_stack_top) and SS (USER_DATA).
.stuck:
        hlt
        jmp .stuck

; ---- the kernel's side of int 0x80 -----------------------------------------------------------
syscall:
        cmp eax, SYS_WRITE
        je .write
        cmp eax, SYS_EXIT
        je .exit
        iretd
.write:
        mov esi, ebx            ; flat segments: the user's address is the kernel's too
        call print
        iretd
.exit:
        mov esi, exited
        call print
        mov eax, ebx
        call print_hex
        mov esi, newline
        call print
.halt:
        hlt
        jmp .halt

; ---- the process, in ring 3 ------------------------------------------------------------------
user_main:
        mov ax, USER_DATA
        mov ds, ax
        mov es, ax
        mov eax, SYS_WRITE
        mov ebx, hello
        int 0x80
        mov eax, SYS_EXIT
        mov ebx, 7
        int 0x80

hello:   db 'hello from ring 3', 13, 10, 0
exited:  db 'process exited with code ', 0
newline: db 13, 10, 0

        align 8
idt:    times 256 dq 0
idt_end:
idt_descriptor:
        dw idt_end - idt - 1
        dd idt

        align 16
tss:    times 104 db 0
        times 1024 db 0
kernel_stack_top:
        times 1024 db 0
user_stack_top:
