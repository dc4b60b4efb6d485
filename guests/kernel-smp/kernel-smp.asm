; kernel-smp.asm - a toy SMP kernel for minivisor: what an SMP teaching kernel (xv6's) does with
; the machine, in one file. A Multiboot kernel; with a data disk and up to 8 processors:
;
;     npx minivisor run guests/kernel-smp/kernel-smp.asm --hda guests/kernel-smp/disk.asm \
;         --exit-port 0xf4 --smp 2
;
; In the order it happens:
;   1. the MP tables (Intel MP spec 1.4): found in the EBDA or the BIOS ROM, checksums checked;
;      they say how many processors there are, their APIC IDs, and the IOAPIC's ID
;   2. the 8259 PICs masked; the local APIC on (spurious vector, LINT0/1 masked, a periodic timer
;      every millisecond); the IOAPIC routes the keyboard (IRQ 1) and COM1 (IRQ 4) to the first
;      processor and the IDE disk (IRQ 14) to the last, as xv6 does
;   3. five kernel threads, then the other processors started with INIT, STARTUP, STARTUP (MP
;      spec B.4): each comes up through a real-mode trampoline at 0x8000 into this kernel
;   4. every processor runs the threads: one run queue under a spinlock, preempted by each
;      processor's LAPIC timer (or giving the processor up with int 0x30)
;        threads 0-2 count to 3000 each in a shared counter, under a spinlock (XCHG)
;        thread 3 reads sector 1 of the first hard disk with the IDE driver: a command, IRQ 14,
;          then the data with rep insd
;        thread 4 echoes what arrives from the keyboard and from COM1 (both interrupt-driven,
;          through the IOAPIC) until a newline; after 200 ms of silence it gives up
;   5. when every thread is done: the counter, and the exit port (0xF4) with status 0 (exit 1)
;
; Output goes to COM1. Everything happens in virtual time, so a run prints the same thing each
; time, in every mode (bare, ept, shadow) for a given number of processors.
        bits 32
        org 0x100000

MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00010000              ; bit 16: the load addresses are in this header
COM1            equ 0x3F8
LAPIC           equ 0xFEE00000
IOAPIC          equ 0xFEC00000
EXIT_PORT       equ 0xF4
TRAMPOLINE      equ 0x8000                  ; where the other processors start (STARTUP vector 08h)
MAX_CPUS        equ 8
THREADS         equ 5
COUNT_ROUNDS    equ 3000
INPUT_WAIT_MS   equ 200
STACK_BYTES     equ 4096

; LAPIC registers
LAPIC_ID        equ 0x20
LAPIC_TPR       equ 0x80
LAPIC_EOI       equ 0xB0
LAPIC_SVR       equ 0xF0
LAPIC_ICR_LOW   equ 0x300
LAPIC_ICR_HIGH  equ 0x310
LAPIC_TIMER     equ 0x320
LAPIC_LINT0     equ 0x350
LAPIC_LINT1     equ 0x360
LAPIC_INITIAL   equ 0x380
LAPIC_DIVIDE    equ 0x3E0

; Vectors
VEC_TIMER       equ 0x20
VEC_KEYBOARD    equ 0x21
VEC_COM1        equ 0x24
VEC_IDE         equ 0x2E
VEC_YIELD       equ 0x30
VEC_SPURIOUS    equ 0xFF

; Thread states
UNUSED          equ 0
RUNNABLE        equ 1
RUNNING         equ 2
DEAD            equ 3

header:
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)
        dd header                           ; header_addr
        dd header                           ; load_addr
        dd 0                                ; load_end_addr: the whole file
        dd bss_end                          ; bss_end_addr
        dd start                            ; entry_addr

; ==== The bootstrap processor ====================================================================
start:
        mov esp, boot_stack_top
        cld
        lgdt [gdtr]
        jmp 0x08:.reload
.reload:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        call uart_init
        mov ecx, MAX_CPUS
.no_thread:
        mov dword [cpu_current + ecx * 4 - 4], -1       ; every processor starts idle
        mov dword [cpu_last + ecx * 4 - 4], -1
        loop .no_thread
        mov esi, msg_banner
        call print
        call mp_init
        call idt_init
        lidt [idtr]
        ; The 8259s masked: interrupts come through the APICs from now on.
        mov al, 0xFF
        out 0x21, al
        out 0xA1, al
        call ioapic_init
        call lapic_init
        ; The threads, then the other processors.
        mov ecx, 0
.spawn:
        mov eax, [thread_entries + ecx * 4]
        call thread_create
        inc ecx
        cmp ecx, THREADS
        jne .spawn
        call start_aps
        mov esi, msg_bsp_idle
        call print_cpu
        jmp idle

; idle: what a processor does when no thread is runnable (its own boot stack).
idle:
        sti
.wait:
        hlt
        jmp .wait

; ==== Output on COM1 =============================================================================
uart_init:
        mov dx, COM1 + 3
        mov al, 0x03                        ; 8 bits, no parity, 1 stop bit
        out dx, al
        mov dx, COM1 + 1
        mov al, 0x01                        ; an interrupt for each byte received
        out dx, al
        mov dx, COM1 + 4
        mov al, 0x0B                        ; DTR, RTS, OUT2 (which lets the IRQ out)
        out dx, al
        ret

; putc: AL to COM1 (waits for the transmitter).
putc:
        push edx
        push eax
        mov dx, COM1 + 5
.busy:
        in al, dx
        test al, 0x20
        jz .busy
        pop eax
        mov dx, COM1
        out dx, al
        pop edx
        ret

; print: the zero-terminated string at ESI, under the console lock.
print:
        push eax
        push esi
        mov eax, console_lock
        call acquire
        call puts
        mov eax, console_lock
        call release
        pop esi
        pop eax
        ret

; print_cpu: "cpu N: " then the string at ESI, as one line under the console lock.
print_cpu:
        push eax
        push esi
        mov eax, console_lock
        call acquire
        mov esi, msg_cpu
        call puts
        call this_cpu
        add al, '0'
        call putc
        mov al, ':'
        call putc
        mov al, ' '
        call putc
        pop esi
        push esi
        call puts
        mov eax, console_lock
        call release
        pop esi
        pop eax
        ret

; puts: the string at ESI, without the lock (the caller holds it).
puts:
        push eax
.next:
        lodsb
        test al, al
        jz .done
        call putc
        jmp .next
.done:
        pop eax
        ret

; put_dec: EAX in decimal (the caller holds the console lock).
put_dec:
        pushad
        mov ebx, 10
        xor ecx, ecx
.divide:
        xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .divide
.digit:
        pop eax
        add al, '0'
        call putc
        loop .digit
        popad
        ret

; ==== Spinlocks ===================================================================================
; acquire: takes the lock at EAX (XCHG is atomic, with or without LOCK). Spins with PAUSE.
acquire:
        push edx
.retry:
        mov dl, 1
        xchg dl, [eax]
        test dl, dl
        jz .taken
        pause
        jmp .retry
.taken:
        pop edx
        ret

release:
        mov byte [eax], 0
        ret

; ==== The MP tables ===============================================================================
; mp_init: finds the floating pointer (in the EBDA's first KiB, else the BIOS ROM), checks both
; checksums, records each processor's APIC ID and the IOAPIC's ID, and says what it found.
mp_init:
        movzx esi, word [0x40E]             ; the BDA says where the EBDA is (a segment)
        shl esi, 4
        mov ecx, 1024
        call mp_search
        jnc .found
        mov esi, 0xF0000
        mov ecx, 0x10000
        call mp_search
        jnc .found
        mov esi, msg_no_mp
        call print
        jmp halt_forever
.found:
        mov ebx, [esi + 4]                  ; the configuration table
        cmp dword [ebx], 'PCMP'
        jne .bad
        movzx ecx, word [ebx + 4]
        mov esi, ebx
        call checksum
        jnz .bad
        movzx ecx, word [ebx + 34]          ; entries
        lea esi, [ebx + 44]
.entry:
        test ecx, ecx
        jz .walked
        movzx eax, byte [esi]
        cmp al, 0                           ; a processor: 20 bytes
        jne .not_cpu
        test byte [esi + 3], 1              ; enabled?
        jz .skip_cpu
        mov edx, [cpu_count]
        cmp edx, MAX_CPUS
        jae .skip_cpu
        movzx eax, byte [esi + 1]
        mov [cpu_apic_ids + edx], al
        inc dword [cpu_count]
.skip_cpu:
        add esi, 20
        dec ecx
        jmp .entry
.not_cpu:
        cmp al, 2                           ; the IOAPIC
        jne .other
        movzx eax, byte [esi + 1]
        mov [ioapic_id], eax
.other:
        add esi, 8                          ; buses and interrupt assignments: 8 bytes
        dec ecx
        jmp .entry
.walked:
        mov eax, console_lock
        call acquire
        mov esi, msg_mp1
        call puts
        mov eax, [cpu_count]
        call put_dec
        mov esi, msg_mp2
        call puts
        mov eax, [ioapic_id]
        call put_dec
        mov al, 10
        call putc
        mov eax, console_lock
        call release
        ret
.bad:
        mov esi, msg_bad_mp
        call print
        jmp halt_forever

; mp_search: the floating pointer in ECX bytes from ESI, on 16-byte boundaries: CF clear and ESI
; at it when found.
mp_search:
        push ecx
.look:
        cmp dword [esi], '_MP_'
        jne .next
        push ecx
        push esi
        mov ecx, 16
        call checksum
        pop esi
        pop ecx
        jz .yes
.next:
        add esi, 16
        sub ecx, 16
        ja .look
        pop ecx
        stc
        ret
.yes:
        pop ecx
        clc
        ret

; checksum: ZF set when the ECX bytes at ESI sum to zero.
checksum:
        xor eax, eax
.add:
        add al, [esi]
        inc esi
        loop .add
        test al, al
        ret

halt_forever:
        cli
        hlt
        jmp halt_forever

; ==== Descriptors =================================================================================
; idt_init: interrupt gates for the vectors this kernel takes; the others stay absent.
idt_init:
        mov eax, timer_interrupt
        mov ebx, VEC_TIMER
        call set_gate
        mov eax, keyboard_interrupt
        mov ebx, VEC_KEYBOARD
        call set_gate
        mov eax, com1_interrupt
        mov ebx, VEC_COM1
        call set_gate
        mov eax, ide_interrupt
        mov ebx, VEC_IDE
        call set_gate
        mov eax, yield_interrupt
        mov ebx, VEC_YIELD
        call set_gate
        mov eax, spurious_interrupt
        mov ebx, VEC_SPURIOUS
        call set_gate
        ret

; set_gate: an interrupt gate (ring 0, present) for vector EBX to EAX.
set_gate:
        mov [idt + ebx * 8], ax
        mov word [idt + ebx * 8 + 2], 0x08
        mov word [idt + ebx * 8 + 4], 0x8E00
        shr eax, 16
        mov [idt + ebx * 8 + 6], ax
        ret

; ==== The APICs ===================================================================================
; lapic_init: this processor's local APIC: on, LINT0/1 masked (the 8259 no longer reaches it),
; and a periodic timer every millisecond (10^6 ticks of the 1 GHz bus clock, divided by 1).
lapic_init:
        mov dword [LAPIC + LAPIC_SVR], 0x100 | VEC_SPURIOUS
        mov dword [LAPIC + LAPIC_LINT0], 0x10000
        mov dword [LAPIC + LAPIC_LINT1], 0x10000
        mov dword [LAPIC + LAPIC_TPR], 0
        mov dword [LAPIC + LAPIC_DIVIDE], 0xB
        mov dword [LAPIC + LAPIC_TIMER], 0x20000 | VEC_TIMER
        mov dword [LAPIC + LAPIC_INITIAL], 1000000
        ret

; ioapic_init: the keyboard and COM1 to the first processor, the disk to the last (edge, active
; high, fixed, physical destination: an APIC ID).
ioapic_init:
        mov eax, 1
        mov ebx, VEC_KEYBOARD
        movzx ecx, byte [cpu_apic_ids]
        call ioapic_route
        mov eax, 4
        mov ebx, VEC_COM1
        call ioapic_route
        mov eax, 14
        mov ebx, VEC_IDE
        mov edx, [cpu_count]
        movzx ecx, byte [cpu_apic_ids + edx - 1]
        call ioapic_route
        ret

; ioapic_route: pin EAX to vector EBX at APIC ID ECX.
ioapic_route:
        lea edx, [0x11 + eax * 2]           ; IOREGSEL: the entry's high half first (the destination)
        mov [IOAPIC], edx
        shl ecx, 24
        mov [IOAPIC + 0x10], ecx
        dec edx
        mov [IOAPIC], edx
        mov [IOAPIC + 0x10], ebx            ; then its low half: the vector, unmasked
        ret

; this_cpu: EAX = this processor's index (its APIC ID here: the BIOS numbers them 0, 1, ...).
this_cpu:
        mov eax, [LAPIC + LAPIC_ID]
        shr eax, 24
        ret

; start_aps: the trampoline to 0x8000, then INIT, STARTUP, STARTUP to each other processor, one at a
; time: each says it is up before the next is started.
start_aps:
        mov esi, trampoline
        mov edi, TRAMPOLINE
        mov ecx, trampoline_end - trampoline
        rep movsb
        mov ebx, 1
.next:
        cmp ebx, [cpu_count]
        jae .done
        movzx eax, byte [cpu_apic_ids + ebx]
        shl eax, 24
        mov [LAPIC + LAPIC_ICR_HIGH], eax
        mov dword [LAPIC + LAPIC_ICR_LOW], 0xC500               ; INIT, level, assert
        mov dword [LAPIC + LAPIC_ICR_LOW], 0x8500               ; INIT, level, de-assert
        mov [LAPIC + LAPIC_ICR_HIGH], eax
        mov dword [LAPIC + LAPIC_ICR_LOW], 0x0600 | (TRAMPOLINE >> 12)  ; STARTUP
        mov [LAPIC + LAPIC_ICR_HIGH], eax
        mov dword [LAPIC + LAPIC_ICR_LOW], 0x0600 | (TRAMPOLINE >> 12)
.wait:
        cmp [cpus_up], ebx
        jb .wait
        inc ebx
        jmp .next
.done:
        ret

; The trampoline: copied to 0x8000; a STARTUP IPI enters it at 0800:0000 in real mode.
trampoline:
        bits 16
        cli
        mov ax, TRAMPOLINE >> 4
        mov ds, ax
        o32 lgdt [trampoline_gdtr - trampoline]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:ap_entry
trampoline_gdtr:
        dw gdt_end - gdt - 1
        dd gdt
trampoline_end:
        bits 32

; ap_entry: another processor, in protected mode: its own stack, the IDT, its local APIC, then idle.
ap_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov eax, [LAPIC + LAPIC_ID]         ; (no stack yet: no call)
        shr eax, 24
        inc eax
        shl eax, 12
        lea esp, [ap_stacks + eax]          ; APIC ID n: the top of stack n
        lidt [idtr]
        call lapic_init
        mov esi, msg_ap_up
        call print_cpu
        lock inc dword [cpus_up]
        jmp idle

; ==== Threads and the scheduler ===================================================================
; thread_create: a runnable thread that starts at EAX, with a stack of its own that holds what
; the scheduler's IRET and POPAD take: as if it had been interrupted before its first instruction.
thread_create:
        pushad
        mov ebx, [thread_count]
        mov edi, ebx
        shl edi, 12
        lea edi, [thread_stacks + edi + STACK_BYTES]
        sub edi, 12
        mov [edi], eax                      ; EIP
        mov dword [edi + 4], 0x08           ; CS
        mov dword [edi + 8], 0x202          ; EFLAGS: interrupts on
        sub edi, 32                         ; PUSHAD's frame (EBX holds the thread's number)
        mov ecx, 8
.zero:
        mov dword [edi + ecx * 4 - 4], 0
        loop .zero
        mov [edi + 16], ebx                 ; EBX in the frame
        mov [thread_esp + ebx * 4], edi
        mov byte [thread_state + ebx], RUNNABLE
        inc dword [thread_count]
        popad
        ret

; The timer: EOI, then the scheduler may switch threads. A yield does the same without the EOI.
timer_interrupt:
        pushad
        mov dword [LAPIC + LAPIC_EOI], 0
        call this_cpu
        test eax, eax
        jnz switch
        inc dword [ticks]                   ; milliseconds, as the first processor counts them
        jmp switch

yield_interrupt:
        pushad
switch:
        mov eax, esp
        call schedule
        mov esp, eax
        popad
        iret

; schedule: EAX = the interrupted context's ESP; returns the ESP to resume (another thread's,
; or this processor's idle context). Round robin over the threads, under the run-queue lock.
schedule:
        push ebx
        push ecx
        push edx
        push esi
        mov esi, eax
        call this_cpu
        mov edx, eax                        ; EDX: this processor
        mov eax, run_queue_lock
        call acquire
        mov ebx, [cpu_current + edx * 4]    ; the thread this processor ran, or -1 (idle)
        test ebx, ebx
        js .was_idle
        mov [thread_esp + ebx * 4], esi
        cmp byte [thread_state + ebx], RUNNING
        jne .pick
        mov byte [thread_state + ebx], RUNNABLE
        jmp .pick
.was_idle:
        mov [cpu_idle_esp + edx * 4], esi
.pick:
        ; the next runnable thread after the last one this processor ran
        mov ecx, THREADS
        mov eax, [cpu_last + edx * 4]
.try:
        inc eax
        cmp eax, THREADS
        jb .in_range
        xor eax, eax
.in_range:
        cmp byte [thread_state + eax], RUNNABLE
        je .found
        loop .try
        ; nothing runnable: idle
        mov dword [cpu_current + edx * 4], -1
        mov esi, [cpu_idle_esp + edx * 4]
        jmp .unlock
.found:
        mov byte [thread_state + eax], RUNNING
        mov [cpu_current + edx * 4], eax
        mov [cpu_last + edx * 4], eax
        mov esi, [thread_esp + eax * 4]
.unlock:
        mov eax, run_queue_lock
        call release
        mov eax, esi
        pop esi
        pop edx
        pop ecx
        pop ebx
        ret

; thread_exit: this thread is done; the last one to finish reports and ends the run.
thread_exit:
        cli
        mov eax, run_queue_lock
        call acquire
        call this_cpu
        mov ebx, [cpu_current + eax * 4]
        mov byte [thread_state + ebx], DEAD
        inc dword [threads_done]
        mov ecx, [threads_done]
        mov eax, run_queue_lock
        call release
        cmp ecx, THREADS
        je finish
        int VEC_YIELD                       ; never comes back: the thread is dead
        jmp halt_forever

finish:
        mov eax, console_lock
        call acquire
        mov esi, msg_counter
        call puts
        mov eax, [counter]
        call put_dec
        mov esi, msg_expected
        call puts
        mov eax, 3 * COUNT_ROUNDS
        call put_dec
        mov esi, msg_close
        call puts
        mov eax, console_lock
        call release
        mov al, 0
        out EXIT_PORT, al
        jmp halt_forever

; ==== The threads ================================================================================
; count_thread: COUNT_ROUNDS increments of the shared counter, each a read, an add and a write
; (a timer interrupt may come between them) under the counter's lock.
count_thread:
        mov ecx, COUNT_ROUNDS
.round:
        mov eax, counter_lock
        call acquire
        mov edx, [counter]
        inc edx
        nop
        nop
        mov [counter], edx
        mov eax, counter_lock
        call release
        loop .round
        mov eax, console_lock
        call acquire
        mov esi, msg_thread
        call puts
        mov eax, ebx
        call put_dec
        mov esi, msg_counted
        call puts
        call this_cpu
        call put_dec
        mov al, 10
        call putc
        mov eax, console_lock
        call release
        jmp thread_exit

; disk_thread: sector 1 of the first hard disk (the IDE master) with the driver below; prints its
; first line.
disk_thread:
        mov dx, 0x1F7                       ; a disk there? (BSY clear, DRDY set)
        in al, dx
        and al, 0xC0
        cmp al, 0x40
        jne .no_disk
        mov dx, 0x3F6
        xor al, al                          ; nIEN clear: the drive interrupts
        out dx, al
        mov dx, 0x1F6
        mov al, 0xE0                        ; master, LBA
        out dx, al
        mov dx, 0x1F2
        mov al, 1
        out dx, al
        inc dx
        mov al, 1                           ; LBA 1
        out dx, al
        inc dx
        xor al, al
        out dx, al
        inc dx
        out dx, al
        mov byte [disk_ready], 0
        mov dx, 0x1F7
        mov al, 0x20                        ; READ SECTORS
        out dx, al
.wait:
        cmp byte [disk_ready], 0            ; set by IRQ 14, on the processor the IOAPIC sends it to
        jne .ready
        hlt                                 ; (interrupts are on: the next one wakes this processor)
        jmp .wait
.ready:
        mov edi, sector
        mov dx, 0x1F0
        mov ecx, 128
        rep insd
        mov eax, console_lock
        call acquire
        mov esi, msg_disk
        call puts
        mov eax, [disk_irq_cpu]
        call put_dec
        mov esi, msg_disk2
        call puts
        mov esi, sector
.char:
        lodsb
        cmp al, 10
        je .line_done
        test al, al
        jz .line_done
        call putc
        jmp .char
.line_done:
        mov al, 10
        call putc
        mov eax, console_lock
        call release
        jmp thread_exit
.no_disk:
        mov esi, msg_no_disk
        call print
        jmp thread_exit

; input_thread: echoes the keyboard's and COM1's characters until a newline comes on either, or
; INPUT_WAIT_MS of the first processor's ticks pass with nothing.
input_thread:
        mov eax, [ticks]
        mov [input_deadline], eax
        add dword [input_deadline], INPUT_WAIT_MS
.poll:
        mov esi, keyboard_queue
        call dequeue
        jc .try_com1
        mov esi, msg_keyboard
        call echo
        cmp al, 10
        je .done
.try_com1:
        mov esi, com1_queue
        call dequeue
        jc .nothing
        mov esi, msg_com1
        call echo
        cmp al, 10
        je .done
        jmp .poll
.nothing:
        mov eax, [ticks]
        cmp eax, [input_deadline]
        jae .silence
        hlt                                 ; until the next interrupt: a key, a byte, a tick
        jmp .poll
.silence:
        mov esi, msg_no_input
        call print
.done:
        jmp thread_exit

; echo: "keyboard: c" or "com1: c" (ESI names the source; a newline shows as \n).
echo:
        push eax
        mov eax, console_lock
        call acquire
        call puts
        mov eax, [esp]
        cmp al, 10
        jne .plain
        mov al, '\'
        call putc
        mov al, 'n'
.plain:
        call putc
        mov al, 10
        call putc
        mov eax, console_lock
        call release
        pop eax
        ret

; A queue of 64 bytes (head, tail, bytes) filled by an interrupt, emptied by the input thread.
; enqueue: AL into the queue at ESI (dropped when full). dequeue: AL from it, CF set when empty.
enqueue:
        push ebx
        mov ebx, [esi + 4]                  ; tail
        mov [esi + 8 + ebx], al
        inc ebx
        and ebx, 63
        cmp ebx, [esi]
        je .full
        mov [esi + 4], ebx
.full:
        pop ebx
        ret

dequeue:
        push ebx
        mov ebx, [esi]
        cmp ebx, [esi + 4]
        je .empty
        mov al, [esi + 8 + ebx]
        inc ebx
        and ebx, 63
        mov [esi], ebx
        pop ebx
        clc
        ret
.empty:
        pop ebx
        stc
        ret

; ==== Interrupts from devices ====================================================================
keyboard_interrupt:
        pushad
        in al, 0x60
        test al, 0x80                       ; a key's release: nothing to type
        jnz .done
        movzx eax, al
        cmp eax, scancode_table_end - scancode_table
        jae .done
        mov al, [scancode_table + eax]
        test al, al
        jz .done
        mov esi, keyboard_queue
        call enqueue
.done:
        mov dword [LAPIC + LAPIC_EOI], 0
        popad
        iret

com1_interrupt:
        pushad
.byte:
        mov dx, COM1 + 5
        in al, dx
        test al, 1                          ; data ready?
        jz .done
        mov dx, COM1
        in al, dx
        cmp al, 13
        jne .keep
        mov al, 10
.keep:
        mov esi, com1_queue
        call enqueue
        jmp .byte
.done:
        mov dword [LAPIC + LAPIC_EOI], 0
        popad
        iret

ide_interrupt:
        pushad
        mov dx, 0x1F7
        in al, dx                           ; reading the status acknowledges the drive
        mov byte [disk_ready], 1
        call this_cpu
        mov [disk_irq_cpu], eax
        mov dword [LAPIC + LAPIC_EOI], 0
        popad
        iret

spurious_interrupt:
        iret                                ; no EOI for a spurious interrupt

; ==== Data =======================================================================================
        align 8
gdt:
        dq 0
        dq 0x00CF9A000000FFFF               ; 0x08 code
        dq 0x00CF92000000FFFF               ; 0x10 data
gdt_end:
gdtr:
        dw gdt_end - gdt - 1
        dd gdt
idtr:
        dw 256 * 8 - 1
        dd idt

thread_entries:
        dd count_thread, count_thread, count_thread, disk_thread, input_thread

; Set 1 scan codes to characters: digits, letters, space, Enter.
scancode_table:
        db 0, 0, '1234567890', 0, 0, 0, 0
        db 'qwertyuiop', 0, 0, 10, 0
        db 'asdfghjkl', 0, 0, 0, 0, 0
        db 'zxcvbnm', 0, 0, 0, 0, 0, 0, ' '
scancode_table_end:

msg_banner:     db 'kernel-smp: a toy SMP kernel', 10, 0
msg_no_mp:      db 'kernel-smp: no MP tables: not an MP machine', 10, 0
msg_bad_mp:     db 'kernel-smp: the MP configuration table is damaged', 10, 0
msg_mp1:        db 'mp: ', 0
msg_mp2:        db ' processor(s), IOAPIC ', 0
msg_cpu:        db 'cpu ', 0
msg_bsp_idle:   db 'the others are up; scheduling', 10, 0
msg_ap_up:      db 'up', 10, 0
msg_thread:     db 'thread ', 0
msg_counted:    db ': counted to 3000, ending on cpu ', 0
msg_disk:       db 'disk (IRQ 14 on cpu ', 0
msg_disk2:      db '): ', 0
msg_no_disk:    db 'disk: no disk (give one with --hda)', 10, 0
msg_keyboard:   db 'keyboard: ', 0
msg_com1:       db 'com1: ', 0
msg_no_input:   db 'input: none for 200 ms', 10, 0
msg_counter:    db 'counter: ', 0
msg_expected:   db ' (expected ', 0
msg_close:      db ')', 10, 0

; ==== Zeroed at load (the Multiboot header's bss_end) =============================================
        align 4096
bss_start:
idt:            times 256 * 8 db 0
console_lock:   dd 0
run_queue_lock: dd 0
counter_lock:   dd 0
counter:        dd 0
cpu_count:      dd 0
cpus_up:        dd 0
ioapic_id:      dd 0
ticks:          dd 0
threads_done:   dd 0
thread_count:   dd 0
input_deadline: dd 0
disk_ready:     dd 0
disk_irq_cpu:   dd 0
cpu_apic_ids:   times MAX_CPUS db 0
cpu_current:    times MAX_CPUS dd 0
cpu_last:       times MAX_CPUS dd 0
cpu_idle_esp:   times MAX_CPUS dd 0
thread_state:   times THREADS db 0
                align 4
thread_esp:     times THREADS dd 0
keyboard_queue: times 8 + 64 db 0
com1_queue:     times 8 + 64 db 0
sector:         times 512 db 0
                align 4096
boot_stack:     times STACK_BYTES db 0
boot_stack_top:
ap_stacks:      times MAX_CPUS * STACK_BYTES db 0
thread_stacks:  times THREADS * STACK_BYTES db 0
bss_end:
