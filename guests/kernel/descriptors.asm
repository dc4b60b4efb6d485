; descriptors.asm - the three tables the CPU reads on its own in protected mode:
;   GDT  the segments. Paging does the real protection here, so every segment is flat
;        (base 0, limit 4 GiB); what differs is the privilege: DPL 0 for the kernel's code
;        and data, DPL 3 for the user's. A ring 3 process can only load the DPL 3 ones.
;   TSS  in this kernel only for SS0:ESP0: when an interrupt or `int 0x80` arrives in ring 3,
;        the CPU switches to the stack SS0:ESP0 before pushing anything. The scheduler points
;        ESP0 at the running process's own kernel stack on every switch.
;   IDT  what runs for each vector: exceptions 0-19, IRQs 32-47, and `int 0x80`.

; ---- GDT ---------------------------------------------------------------------------------------
; A segment descriptor, 8 bytes: limit 15:0, base 15:0, base 23:16, access byte (present, DPL,
; type), flags (4 KiB granularity, 32-bit) with limit 19:16, base 31:24.
        align 8
gdt:
        dq 0                            ; 00h: the null descriptor, required
        dq 0x00CF9A000000FFFF           ; 08h: kernel code: present, DPL 0, execute/read
        dq 0x00CF92000000FFFF           ; 10h: kernel data: present, DPL 0, read/write
        dq 0x00CFFA000000FFFF           ; 18h: user code:   present, DPL 3, execute/read
        dq 0x00CFF2000000FFFF           ; 20h: user data:   present, DPL 3, read/write
gdt_tss:                                ; 28h: the TSS: an available 32-bit TSS (type 9), DPL 0;
        dw TSS_SIZE - 1                 ;      its base is filled in by gdt_init
        dw 0
        db 0
        db 0x89
        db 0
        db 0
gdt_end:
gdt_ptr:
        dw gdt_end - gdt - 1
        dd gdt

; ---- TSS ---------------------------------------------------------------------------------------
; The 32-bit TSS is 104 bytes. Hardware task switching is not used, so only ESP0 (offset 4) and
; SS0 (offset 8) matter; the I/O map base (offset 102) points past the end: no I/O bitmap,
; so ring 3 may touch no port (IOPL is 0 in every process's EFLAGS).
TSS_SIZE        equ 104
TSS_ESP0        equ 4
TSS_SS0         equ 8
        align 4
tss:
        dd 0
        dd 0                            ; ESP0: set by the scheduler
        dd KERNEL_DS                    ; SS0
        times 102 - 12 db 0
        dw TSS_SIZE                     ; I/O map base: none

; gdt_init: loads the GDT, reloads every segment register from it, and loads the task register.
gdt_init:
        mov eax, tss                    ; the TSS's base, spread over the descriptor
        mov [gdt_tss + 2], ax
        shr eax, 16
        mov [gdt_tss + 4], al
        mov [gdt_tss + 7], ah
        lgdt [gdt_ptr]
        jmp KERNEL_CS:.reload_cs        ; a far jump is the only way to reload CS
.reload_cs:
        mov ax, KERNEL_DS
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov ax, TSS_SEL
        ltr ax                          ; marks the TSS descriptor busy
        ret

; ---- IDT ---------------------------------------------------------------------------------------
; A gate, 8 bytes: handler offset 15:0, code selector, 0, type and DPL, offset 31:16.
;   8Eh  interrupt gate, DPL 0: IF is cleared on entry. Used for everything: the kernel runs
;        with interrupts off (it is not preemptible), except while idle in the scheduler.
;   EEh  the same with DPL 3: `int 0x80` from ring 3 is allowed through it. A DPL 0 gate
;        would answer `int n` from ring 3 with #GP - which is what the other vectors do.
GATE_KERNEL     equ 0x8E
GATE_USER       equ 0xEE
IDT_ENTRIES     equ 256

; set_gate: IDT entry EAX (the vector) -> handler EBX, type and DPL in CL.
set_gate:
        push edx
        lea edx, [idt + eax * 8]
        mov [edx], bx                   ; offset 15:0
        mov word [edx + 2], KERNEL_CS
        mov byte [edx + 4], 0
        mov [edx + 5], cl
        push ebx
        shr ebx, 16
        mov [edx + 6], bx               ; offset 31:16
        pop ebx
        pop edx
        ret

; idt_init: fills the IDT from isr_table (interrupts.asm) and loads it.
idt_init:
        pushad
        mov esi, isr_table
.gate:
        mov eax, [esi]                  ; vector, or -1 at the end
        cmp eax, -1
        je .load
        mov ebx, [esi + 4]              ; its stub
        mov cl, GATE_KERNEL
        cmp eax, 0x80
        jne .set
        mov cl, GATE_USER
.set:
        call set_gate
        add esi, 8
        jmp .gate
.load:
        lidt [idt_ptr]
        popad
        ret

idt_ptr:
        dw IDT_ENTRIES * 8 - 1
        dd idt
