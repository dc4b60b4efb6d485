; Exercise 08: two processes, each in its own address space, switched by the timer.
%include "boot32.inc"

SHARED    equ 0x40000000        ; each process's own page here: its counter
LOW_TABLE equ 0x10000           ; the first 4 MiB, identity: shared
DIR_A     equ 0x11000           ; A's directory and its table for SHARED
PT_A      equ 0x12000
DIR_B     equ 0x13000
PT_B      equ 0x14000
FRAME_A   equ 0x200000
FRAME_B   equ 0x201000
SWITCHES  equ 20                ; the run ends after so many ticks

main:
        call address_spaces
        call interrupts
        ; B's first switch-in finds this on its stack, as if the timer had interrupted it
        ; at process_b: what the timer handler pushes (an IRET frame, then PUSHAD's eight).
        mov esp, stack_b_top
        push dword 0x202        ; EFLAGS: IF set
        push dword CODE_SEL
        push dword process_b
        pushad
        mov [saved_esp + 4], esp
        ; A is what runs now.
        mov esp, stack_a_top
        mov eax, DIR_A
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        sti
        jmp process_a

; ---- the timer ----------------------------------------------------------------------------
timer:
        ; TODO: switch processes. Save the running one's registers (PUSHAD) and its ESP in
        ; saved_esp[current]; make the other one current; load its CR3 (DIR_A or DIR_B) and
        ; its saved ESP. Count the switch in `switches` (after SWITCHES, jump to finish).
        ; Tell the PIC the interrupt is handled (OUT 0x20 with 0x20: EOI). POPAD and IRETD
        ; return into the other process, where the timer once interrupted it.
        mov al, 0x20
        out 0x20, al
        iretd

finish:
        mov esi, done
        call print
.halt:
        cli
        hlt
        jmp .halt

; ---- the processes: each counts in its own page at SHARED ----------------------------------
process_a:
        mov esi, hello_a
        call print
.count:
        inc dword [SHARED]
        jmp .count
process_b:
        mov esi, hello_b
        call print
.count:
        inc dword [SHARED]
        jmp .count

; ---- set-up --------------------------------------------------------------------------------
address_spaces:
        mov edi, LOW_TABLE
        mov eax, 0x003
        mov ecx, 1024
.fill:
        stosd
        add eax, 0x1000
        loop .fill
        xor eax, eax
        mov edi, DIR_A
        mov ecx, 4096           ; DIR_A, PT_A, DIR_B, PT_B
        rep stosd
        mov dword [DIR_A], LOW_TABLE | 3
        mov dword [DIR_A + (SHARED >> 22) * 4], PT_A | 3
        mov dword [PT_A], FRAME_A | 3
        mov dword [DIR_B], LOW_TABLE | 3
        mov dword [DIR_B + (SHARED >> 22) * 4], PT_B | 3
        mov dword [PT_B], FRAME_B | 3
        ret

; The PIC's IRQ 0 (the PIT) on vector 0x20, the others masked; the PIT at about 1 kHz.
interrupts:
        mov eax, timer
        mov edi, idt + 8 * 0x20
        mov [edi], ax
        mov word [edi + 2], CODE_SEL
        mov word [edi + 4], 0x8E00
        shr eax, 16
        mov [edi + 6], ax
        lidt [idt_descriptor]
        mov al, 0x11            ; ICW1: edge, cascade, ICW4
        out 0x20, al
        mov al, 0x20            ; ICW2: vectors 0x20-0x27
        out 0x21, al
        mov al, 0x04            ; ICW3: a slave on IRQ 2
        out 0x21, al
        mov al, 0x01            ; ICW4: 8086 mode
        out 0x21, al
        mov al, 0xFE            ; only IRQ 0
        out 0x21, al
        mov al, 0x34            ; PIT channel 0, rate generator
        out 0x43, al
        mov ax, 1193            ; 1.193182 MHz / 1193: about 1 kHz
        out 0x40, al
        mov al, ah
        out 0x40, al
        ret

current:   dd 0                 ; 0: A runs, 1: B
saved_esp: dd 0, 0              ; each process's ESP while it does not run
switches:  dd 0
hello_a:   db 'A running', 13, 10, 0
hello_b:   db 'B running', 13, 10, 0
done:      db 'switched 20 times', 13, 10, 0

        align 8
idt:    times 0x30 dq 0
idt_end:
idt_descriptor:
        dw idt_end - idt - 1
        dd idt

        align 16
        times 1024 db 0
stack_a_top:
        times 1024 db 0
stack_b_top:
