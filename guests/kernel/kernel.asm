; kernel.asm - a toy protected-mode kernel for minivisor, and the one file to assemble:
;
;     npx minivisor asm guests/kernel/kernel.asm -o disk.img      (a 1.44 MB floppy image)
;     npx minivisor run guests/kernel/kernel.asm --exit-port 0xf4
;
; What it shows, in the order it happens (README.md has the map of the files):
;   boot.asm         real mode: load the kernel (INT 13h AH=42h), E820 map, A20, protected mode
;   descriptors.asm  GDT (kernel and user segments, TSS), IDT, TSS
;   memory.asm       the E820 map, printed; the physical frame allocator
;   interrupts.asm   interrupt entry and exit, the PIC and the PIT (100 Hz)
;   paging.asm       page tables; paging on, with the kernel mapped supervisor-only
;   process.asm      processes in ring 3, each in its own address space
;   scheduler.asm    round robin: preempted by the timer, or giving the CPU up
;   syscalls.asm     `int 0x80`: write, getpid, brk/sbrk, sched_yield, sleep, exit
;   faults.asm       exceptions: demand-zero paging, and killing processes that misbehave
;   user.asm         the user programs
;   console.asm      output to COM1
;
; The image is laid out with sections: the boot sector at file offset 0 (addresses from
; 0x7C00), the kernel from sector 1 (addresses from KERNEL_LOAD, where the boot sector loads
; it), the user image further on (addresses from USER_BASE, where processes see it), then
; zeros to the size of a floppy.

%include "layout.inc"

; ==== Sector 0 ==================================================================================
section boot start=0 vstart=0x7C00
%include "boot.asm"

; ==== The kernel ================================================================================
section kernel start=0x200 vstart=KERNEL_LOAD
        bits 32

; kernel_entry: the boot sector jumps here in 32-bit protected mode, interrupts off, paging off,
; with the flat segments of its temporary GDT.
kernel_entry:
        mov ax, KERNEL_DS
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, BOOT_STACK_TOP
        cld
        mov edi, BSS_START              ; the kernel's variables start at zero
        mov ecx, (BSS_END - BSS_START) / 4
        xor eax, eax
        rep stosd

        call gdt_init
        call print
        db 10, 'toy kernel: in 32-bit protected mode, ring 0', 10, 0
        call print_e820
        call frames_init
        call print
        db 'frames: ', 0
        mov eax, [frames_total]
        call put_dec
        call print
        db ' free 4 KiB frames of RAM (', 0
        shr eax, 8                      ; 256 frames make a MiB
        call put_dec
        call print
        db ' MiB) from 0x00100000 to ', 0
        mov eax, [memory_top]
        call put_hex
        mov al, 10
        call putc

        call idt_init
        call pic_init
        call pit_init
        call print
        db 'interrupts: IDT loaded; PIC: IRQs at vectors 32-47; PIT: 100 Hz', 10, 0

        call paging_init
        call print
        db 'paging: on; the kernel maps 0x00001000 to ', 0
        mov eax, [kernel_pdes]
        shl eax, 22
        call put_hex
        call print
        db ', supervisor-only', 10, 0

        mov esi, programs               ; start the processes
.program:
        mov eax, [esi]
        test eax, eax
        jz .started
        push esi
        mov esi, [esi + 4]
        call proc_create
        pop esi
        jc .no_process
        add esi, 8
        jmp .program
.no_process:
        call print
        db 'kernel: cannot create a process', 10, 0
        jmp panic
.started:
        call print
        db 'kernel: ', 0
        mov eax, [last_pid]
        call put_dec
        call print
        db ' processes created; free frames: ', 0
        mov eax, [frames_free]
        call put_dec
        mov al, 10
        call putc
        call schedule                   ; and the boot stack is left for good

; The processes to start: entry point (in user.asm) and name.
programs:
        dd counter, .counter
        dd heap, .heap
        dd sleeper, .sleeper
        dd spinner, .spinner
        dd bad_cli, .cli
        dd bad_kwrite, .kwrite
        dd bad_wild, .wild
        dd 0
.counter: db 'counter', 0
.heap:    db 'heap', 0
.sleeper: db 'sleeper', 0
.spinner: db 'spinner', 0
.cli:     db 'cli', 0
.kwrite:  db 'kwrite', 0
.wild:    db 'wild', 0

; all_done: the scheduler found no process left. Prints what happened and powers off.
all_done:
        mov eax, [kernel_pd]
        call set_cr3
        call print
        db 'kernel: every process has ended', 10
        db '  context switches:    ', 0
        mov eax, [stat_switches]
        call put_dec
        call print
        db 10, '  system calls:        ', 0
        mov eax, [stat_syscalls]
        call put_dec
        call print
        db 10, '  page faults handled: ', 0
        mov eax, [stat_faults]
        call put_dec
        call print
        db 10, '  demand-zero pages:   ', 0
        mov eax, [stat_demand]
        call put_dec
        call print
        db 10, '  processes killed:    ', 0
        mov eax, [stat_killed]
        call put_dec
        call print
        db 10, '  timer ticks:         ', 0
        mov eax, [ticks]
        call put_dec
        call print
        db 10, '  frames in use:       ', 0
        mov eax, [frames_total]         ; every process's frames should be back: what is still
        sub eax, [frames_free]          ; in use should be the kernel's page directory and tables
        call put_dec
        mov ecx, [kernel_pdes]
        inc ecx
        cmp eax, ecx
        jne .leak
        call print
        db ' = the kernel', 39, 's page directory + ', 0
        mov eax, [kernel_pdes]
        call put_dec
        call print
        db ' page tables', 10, 0
        jmp .off
.leak:
        call print
        db ' - but the kernel', 39, 's tables are ', 0
        mov eax, ecx
        call put_dec
        call print
        db ': frames leaked!', 10, 0
.off:
        call print
        db 'kernel: powering off', 10, 0
        xor eax, eax                    ; QEMU's isa-debug-exit: exit status (0 << 1) | 1 = 1
        out EXIT_PORT, al
.halt:
        cli                             ; without an exit device: stop here
        hlt
        jmp .halt

%include "console.asm"
%include "descriptors.asm"
%include "memory.asm"
%include "interrupts.asm"
%include "paging.asm"
%include "scheduler.asm"
%include "process.asm"
%include "syscalls.asm"
%include "faults.asm"
%ifdef PV
%include "../kernel-pv/pv.asm"         ; kernel-pv: the paravirtual paging calls (PV alternatives)
%endif
kernel_image_end:
        times USER_FILE_OFFSET - 0x200 - ($ - $$) db 0 ; (a negative count: the kernel outgrew its room)

; ==== The user image ============================================================================
section user start=USER_FILE_OFFSET vstart=USER_BASE
        bits 32
user_image_start:
%include "user.asm"
user_image_end:
user_image_size equ user_image_end - user_image_start
        times IMAGE_LOADED_END - USER_FILE_OFFSET - ($ - $$) db 0

; ==== The rest of the floppy ====================================================================
section tail start=IMAGE_LOADED_END
        times FLOPPY_BYTES - IMAGE_LOADED_END db 0

; ==== The kernel's variables (not in the image: zeroed by kernel_entry) =============================
absolute BSS_START
kstacks:        resb MAX_PROCS * KSTACK_SIZE    ; one kernel stack per process slot
frame_bitmap:   resb FRAMES_MAX / 8             ; memory.asm: bit set = frame free
idt:            resb IDT_ENTRIES * 8
procs:          resb MAX_PROCS * PROC_SIZE      ; the process table
current:        resd 1                          ; the running process's entry (0 before the first)
last_pid:       resd 1
boot_kesp:      resd 1                          ; where the boot stack's ESP went
ticks:          resd 1                          ; timer interrupts since the PIT was started
frames_total:   resd 1
frames_free:    resd 1
frame_hint:     resd 1
memory_top:     resd 1
kernel_pd:      resd 1                          ; the kernel's own page directory
kernel_pdes:    resd 1                          ; how many directory entries the kernel uses
stat_switches:  resd 1
stat_syscalls:  resd 1
stat_faults:    resd 1
stat_demand:    resd 1
stat_killed:    resd 1
%ifdef PV
pv_frames:      resd 1                          ; kernel-pv (pv.asm): entries in pv_p2m
pv_batch_count: resd 1                          ; mmu_update requests waiting in pv_batch
pv_batch:       resb PV_BATCH_MAX * 8           ; each: dd machine address of the entry, value
pv_batch_flush: resd PV_BATCH_MAX               ; for each: a virtual address to INVLPG after, or 0
pv_p2m:         resd PV_P2M_MAX                 ; pseudo-physical frame -> machine frame
pv_m2p:         resd PV_M2P_MAX                 ; machine frame -> pseudo-physical frame
%endif
bss_used_end:
