; interrupts.asm - how every interrupt, exception and system call gets into the kernel and
; back out, plus the two chips behind the IRQs: the 8259 PIC pair and the 8254 PIT.
;
; The path in: the CPU looks up the vector in the IDT. Coming from ring 3 it first switches to
; the stack in the TSS (SS0:ESP0, the process's kernel stack) and pushes the user's SS and ESP;
; then, in every case, EFLAGS, CS, EIP and - for some exceptions - an error code. The vector's
; stub pushes a 0 where the CPU pushed no error code (so every frame looks the same) and the
; vector number, and jumps to isr_common, which saves the rest (layout.inc: the F_* offsets).
; The path out is the same in reverse, ending with IRET, which returns to ring 3 (popping the
; user's ESP and SS too) when the saved CS says so.

; The exceptions for which the CPU pushes an error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13,
; #PF 14, #AC 17. For all the others, the stub pushes 0 in its place.
%macro STUB 1
isr_%1:
%if %1 == 8 || (%1 >= 10 && %1 <= 14) || %1 == 17
        push dword %1                   ; the CPU has pushed the error code
%else
        push dword 0                    ; no error code: push one, so all frames are alike
        push dword %1
%endif
        jmp isr_common
%endmacro

%assign v 0
%rep 20
        STUB v
%assign v v + 1
%endrep
%assign v 32
%rep 16
        STUB v
%assign v v + 1
%endrep
        STUB 0x80

; isr_table: vector, stub; idt_init reads it.
%macro TABLE_ENTRY 1
        dd %1, isr_%1
%endmacro
isr_table:
%assign v 0
%rep 20
        TABLE_ENTRY v
%assign v v + 1
%endrep
%assign v 32
%rep 16
        TABLE_ENTRY v
%assign v v + 1
%endrep
        TABLE_ENTRY 0x80
        dd -1

; isr_common: saves the registers, switches to the kernel's data segments, and calls
; interrupt_dispatch with EBP pointing at the frame.
isr_common:
        pushad
        push ds
        push es
        push fs
        push gs
        mov ax, KERNEL_DS
        mov ds, ax
        mov es, ax
        mov ebp, esp                    ; the frame
        cld
        call interrupt_dispatch
; intr_return: the way out. A new process starts here too: proc_create builds a frame on its
; kernel stack as if it had been interrupted at its first instruction.
intr_return:
        pop gs
        pop fs
        pop es
        pop ds
        popad
        add esp, 8                      ; the vector and the error code
        iretd

; interrupt_dispatch: EBP = the frame. Sends the event to its handler.
interrupt_dispatch:
        mov eax, [ebp + F_VECTOR]
        cmp eax, 0x80
        je syscall_dispatch             ; syscalls.asm
        cmp eax, 32
        jb exception                    ; faults.asm
        cmp eax, 32
        je timer_interrupt
        jmp irq_other

; ---- The PIC pair --------------------------------------------------------------------------------
; At power-on (and in the BIOS) the master PIC sends IRQs 0-7 as vectors 8-15, on top of the
; CPU's exceptions. Initialising both chips again (ICW1-ICW4) moves IRQ 0-7 to vectors 32-39 and
; IRQ 8-15 to 40-47. Then every IRQ but the timer's is masked.
PIC1_CMD        equ 0x20
PIC1_DATA       equ 0x21
PIC2_CMD        equ 0xA0
PIC2_DATA       equ 0xA1
PIC_EOI         equ 0x20

pic_init:
        mov al, 0x11                    ; ICW1: initialise, ICW4 follows, edge-triggered, cascade
        out PIC1_CMD, al
        out PIC2_CMD, al
        mov al, 32                      ; ICW2: the first vector of each chip
        out PIC1_DATA, al
        mov al, 40
        out PIC2_DATA, al
        mov al, 4                       ; ICW3: master: a slave on IRQ 2 (bit 2)
        out PIC1_DATA, al
        mov al, 2                       ;       slave: its cascade identity is 2
        out PIC2_DATA, al
        mov al, 1                       ; ICW4: 8086 mode, normal EOI
        out PIC1_DATA, al
        out PIC2_DATA, al
        mov al, 0xFE                    ; masks (OCW1): only IRQ 0, the timer
        out PIC1_DATA, al
        mov al, 0xFF
        out PIC2_DATA, al
        ret

; ---- The PIT ----------------------------------------------------------------------------------------
; Channel 0 counts down from a divisor at 1.193182 MHz and raises IRQ 0 each time it wraps.
PIT_DIVISOR     equ (1193182 + PIT_HZ / 2) / PIT_HZ

pit_init:
        mov al, 0x34                    ; channel 0, low byte then high byte, mode 2 (rate generator)
        out 0x43, al
        mov al, PIT_DIVISOR & 0xFF
        out 0x40, al
        mov al, PIT_DIVISOR >> 8
        out 0x40, al
        ret

; ---- IRQ handlers ------------------------------------------------------------------------------------
; timer_interrupt: IRQ 0, PIT_HZ times a second. Counts the tick, wakes the sleepers whose time
; has come, and - only if it interrupted ring 3 - preempts the running process. (When it
; interrupts the kernel, that is the scheduler's idle loop, which looks again by itself.)
timer_interrupt:
        inc dword [ticks]
        mov al, PIC_EOI                 ; end of interrupt: the PIC may send IRQ 0 again
        out PIC1_CMD, al
        call wake_sleepers              ; scheduler.asm
        test dword [ebp + F_CS], 3
        jz .kernel
        jmp schedule                    ; round robin: the next runnable process, maybe this one
.kernel:
        ret

; irq_other: the other IRQs are masked; one may still arrive spuriously (IRQ 7 or 15 when a
; request disappears). A real one is acknowledged; a spurious one (not in the in-service
; register) must not be.
irq_other:
        mov ecx, eax
        sub ecx, 32                     ; the IRQ number
        mov al, 0x0B                    ; OCW3: the next read is the in-service register
        cmp ecx, 8
        jae .slave
        out PIC1_CMD, al
        in al, PIC1_CMD
        bt eax, ecx
        jnc .done
        mov al, PIC_EOI
        out PIC1_CMD, al
        ret
.slave:
        out PIC2_CMD, al
        in al, PIC2_CMD
        sub ecx, 8
        bt eax, ecx
        jnc .spurious_slave
        mov al, PIC_EOI
        out PIC2_CMD, al
.spurious_slave:
        mov al, PIC_EOI                 ; the master did see IRQ 2 from the slave
        out PIC1_CMD, al
.done:
        ret
