; pv.asm - kernel-pv's side of minivisor's paravirtual paging (--mode pv; the ABI is in
; docs/hypercalls.md, "Paravirtual paging"). guests/kernel/kernel.asm includes this file when PV
; is defined, as guests/kernel-pv/kernel-pv.asm does; the %ifdef PV alternatives in paging.asm
; call the routines here.
;
; Under --mode pv the CPU walks the kernel's page tables as they are, and they hold *machine*
; frames (the host's), not the pseudo-physical frames the kernel sees with paging off. So:
;   - the kernel asks the VMM for the P2M (pseudo-physical frame -> machine frame) once, at the
;     start of paging_init, and keeps it in pv_p2m; it builds the reverse table (pv_m2p) itself,
;     to turn what it reads back from a table into a frame it can address and free;
;   - everything else in the kernel keeps using pseudo-physical addresses: the kernel's direct map
;     puts pseudo-physical address X at virtual address X (on machine frame P2M[X >> 12]), so
;     kernel_pd, P_PD, the frame allocator and every pointer the kernel follows stay as they are;
;   - a frame becomes a page table only once it is mapped read-only in the kernel's map and
;     pinned (hypercall 4 for a page table, 5 for a directory); from then on its entries change
;     only through mmu_update (3), sent in batches (pv_queue, pv_commit); CR3 is loaded with
;     hypercall 7; a table is unpinned (6) and mapped writable again before it is freed.
; A refusal from the VMM is a bug in this kernel: it panics with what was refused.

HC_VERSION      equ 0               ; hypercall numbers (docs/hypercalls.md)
HC_P2M          equ 2
HC_MMU_UPDATE   equ 3
HC_PIN_L1       equ 4
HC_PIN_L2       equ 5
HC_UNPIN        equ 6
HC_NEW_BASEPTR  equ 7
PV_ABI_VERSION  equ 1
PV_NO_FRAME     equ -1              ; 0xFFFFFFFF: the P2M's "not RAM", and pv_m2p's "not ours"

PV_P2M_MAX      equ 0x8000          ; pseudo-physical frames pv_p2m holds: 128 MiB of RAM
PV_M2P_MAX      equ 0x9000          ; machine frames pv_m2p reaches (the VMM's frames start low)
PV_BATCH_MAX    equ 64              ; mmu_update requests gathered per hypercall (the VMM takes 512)
PV_STOP         equ 3               ; exit port value when kernel-pv cannot run: exit status 7

; ---- Finding the VMM ----------------------------------------------------------------------------
; pv_init: makes sure minivisor's VMM offers paravirtual paging, fetches the P2M for the frames
; below memory_top and builds the reverse table. If it cannot, says why and powers off: VMCALL is
; #UD without a VMM (caught here through a temporary #UD gate), and hypercall 2 is -ENOSYS in
; --mode ept and shadow. Needs the IDT; paging must still be off.
pv_init:
        pushad
        mov esi, [idt + 6 * 8]          ; the #UD gate, kept while ours stands in for it
        mov edi, [idt + 6 * 8 + 4]
        mov eax, 6
        mov ebx, .invalid_opcode
        mov cl, GATE_KERNEL
        call set_gate
        mov eax, HC_VERSION
        vmcall                          ; #UD on a machine without a VMM: on to .no_vmcall
        mov [idt + 6 * 8], esi
        mov [idt + 6 * 8 + 4], edi
        cmp eax, PV_ABI_VERSION
        jne .wrong_version

        mov ecx, [memory_top]           ; the P2M, for every frame the kernel will map
        shr ecx, 12
        cmp ecx, PV_P2M_MAX
        ja .too_much_ram
        mov [pv_frames], ecx
        mov eax, HC_P2M
        mov ebx, pv_p2m
        vmcall
        test eax, eax
        js .no_p2m

        mov edi, pv_m2p                 ; the reverse table: every machine frame "not ours"...
        mov ecx, PV_M2P_MAX
        mov eax, PV_NO_FRAME
        cld
        rep stosd
        xor ecx, ecx                    ; ... but those the P2M names
.reverse:
        mov eax, [pv_p2m + ecx * 4]
        cmp eax, PV_NO_FRAME
        je .next
        cmp eax, PV_M2P_MAX
        jae .machine_frame_too_high
        mov [pv_m2p + eax * 4], ecx
.next:
        inc ecx
        cmp ecx, [pv_frames]
        jb .reverse
        popad
        ret

.invalid_opcode:                        ; the stand-in #UD handler: resume at .no_vmcall
        mov dword [esp], .no_vmcall     ; (the EIP of the interrupt frame; ring 0, no error code)
        iret
.no_vmcall:
        mov [idt + 6 * 8], esi
        mov [idt + 6 * 8 + 4], edi
        call pv_needs
        call print
        db 'kernel-pv: VMCALL is an invalid opcode here: no hypervisor', 10, 0
        jmp pv_stop
.wrong_version:
        call pv_needs
        call print
        db 'kernel-pv: the hypercall ABI version is ', 0
        call put_sdec
        call print
        db ', not 1', 10, 0
        jmp pv_stop
.no_p2m:
        call pv_needs
        call print
        db 'kernel-pv: hypercall 2 (p2m) returned ', 0
        call put_sdec
        call print
        db ': no paravirtual paging in this mode', 10, 0
        jmp pv_stop
.too_much_ram:
        call print
        db 'kernel-pv: more RAM than its P2M table holds (128 MiB at most)', 10, 0
        jmp pv_stop
.machine_frame_too_high:
        call print
        db 'kernel-pv: machine frame ', 0
        call put_hex
        call print
        db ' is past the end of its reverse table', 10, 0
        jmp pv_stop

; pv_needs: the line that says what kernel-pv needs.
pv_needs:
        call print
        db 'kernel-pv: needs minivisor --mode pv (paravirtual paging)', 10, 0
        ret

; pv_stop: powers off with exit status (PV_STOP << 1) | 1 = 7, or stops here without an exit port.
pv_stop:
        mov al, PV_STOP
        out EXIT_PORT, al
.halt:
        cli
        hlt
        jmp .halt

; ---- Pseudo-physical and machine addresses --------------------------------------------------------
; pv_to_machine: EAX = a pseudo-physical address -> the machine address (the offset in the page,
; or an entry's flags, kept). Preserves everything else.
pv_to_machine:
        push edx
        mov edx, eax
        shr edx, 12
        cmp edx, [pv_frames]
        jae .none
        mov edx, [pv_p2m + edx * 4]
        cmp edx, PV_NO_FRAME
        je .none
        shl edx, 12
        and eax, PAGE_SIZE - 1
        or eax, edx
        pop edx
        ret
.none:
        call print
        db 'kernel-pv: no machine frame behind ', 0
        jmp pv_panic_eax

; pv_to_phys: EAX = a machine address -> the pseudo-physical address (offset or flags kept).
pv_to_phys:
        push edx
        mov edx, eax
        shr edx, 12
        cmp edx, PV_M2P_MAX
        jae .none
        mov edx, [pv_m2p + edx * 4]
        cmp edx, PV_NO_FRAME
        je .none
        shl edx, 12
        and eax, PAGE_SIZE - 1
        or eax, edx
        pop edx
        ret
.none:
        call print
        db 'kernel-pv: not a machine frame of this guest: ', 0
        jmp pv_panic_eax

; pv_entry_to_machine, pv_entry_to_phys: the same for a page-table entry, whose frame means
; something only when it is present.
pv_entry_to_machine:
        test eax, PG_PRESENT
        jnz pv_to_machine
        ret
pv_entry_to_phys:
        test eax, PG_PRESENT
        jnz pv_to_phys
        ret

; ---- Changing entries: mmu_update, in batches ---------------------------------------------------
; pv_queue: adds a request to the batch: the entry at machine address EDI is to become EAX (with
; a machine frame in it). Sends the batch when it is full. Preserves everything.
pv_queue:
        push esi
        xor esi, esi
        call pv_queue_flush
        pop esi
        ret

; pv_queue_flush: the same, for an entry that was present: once the batch is applied, the TLB
; forgets the virtual address ESI (INVLPG) - the VMM flushes after every update, but the ABI
; leaves the guest's own changes to the guest, as on any x86.
pv_queue_flush:
        push ecx
        mov ecx, [pv_batch_count]
        mov [pv_batch + ecx * 8], edi
        mov [pv_batch + ecx * 8 + 4], eax
        mov [pv_batch_flush + ecx * 4], esi
        inc ecx
        mov [pv_batch_count], ecx
        cmp ecx, PV_BATCH_MAX
        pop ecx
        jae pv_commit
        ret

; pv_commit: sends the batch, if any, in one mmu_update. The VMM checks every request before it
; applies any. Then the addresses the batch asked for leave the TLB. Preserves everything.
pv_commit:
        pushad
        mov ecx, [pv_batch_count]
        jecxz .done
        mov eax, HC_MMU_UPDATE
        mov ebx, pv_batch
        vmcall
        cmp eax, ecx
        jne .refused
        mov dword [pv_batch_count], 0
.flush:
        mov eax, [pv_batch_flush + ecx * 4 - 4]
        test eax, eax
        jz .next
        invlpg [eax]
.next:
        loop .flush
.done:
        popad
        ret
.refused:
        push eax
        call print
        db 'kernel-pv: mmu_update refused request ', 0
        mov eax, edx                    ; the index of the first refused request
        call put_dec
        call print
        db ' (entry ', 0
        mov eax, [pv_batch + edx * 8]
        call put_hex
        call print
        db ' = ', 0
        mov eax, [pv_batch + edx * 8 + 4]
        call put_hex
        call print
        db '): error ', 0
        pop eax
        jmp pv_panic_sdec

; ---- Tables: read-only in the kernel's map, pinned, unpinned ------------------------------------
; pv_kernel_pte: EDI = the machine address of the entry that maps pseudo-physical address EAX
; in the kernel's map (the page tables every address space shares). Preserves everything else.
pv_kernel_pte:
        push eax
        push edx
        mov edx, eax
        shr edx, 22
        mov edi, [kernel_pd]
        mov edi, [edi + edx * 4]        ; the directory entry: a kernel table's machine frame
        and edi, PG_FRAME
        shr eax, 12
        and eax, 1023
        lea edi, [edi + eax * 4]
        pop edx
        pop eax
        ret

; pv_protect: maps the frame at pseudo-physical address EAX read-only in the kernel's map, at
; once (a new table, about to be pinned). Preserves everything.
pv_protect:
        push eax
        push esi
        push edi
        mov esi, eax                    ; its kernel virtual address, to flush
        call pv_kernel_pte
        call pv_to_machine
        or eax, PG_PRESENT              ; supervisor, read-only
        call pv_queue_flush
        call pv_commit
        pop edi
        pop esi
        pop eax
        ret

; pv_unprotect: queues the kernel's map of the frame at pseudo-physical address EAX back to
; writable (an unpinned table, on its way back to the frame allocator). Sent by the next
; pv_commit; the caller must commit before anything can reuse the frame. Preserves everything.
pv_unprotect:
        push eax
        push esi
        push edi
        mov esi, eax
        call pv_kernel_pte
        call pv_to_machine
        or eax, PG_PRESENT | PG_WRITE
        call pv_queue_flush
        pop edi
        pop esi
        pop eax
        ret

; pv_table_call: pins (ECX = HC_PIN_L1 or HC_PIN_L2) or unpins (ECX = HC_UNPIN) the table at
; pseudo-physical address EAX. Preserves everything.
pv_table_call:
        push eax
        push ebx
        call pv_to_machine
        mov ebx, eax
        mov eax, ecx
        vmcall
        test eax, eax
        jnz .refused
        pop ebx
        pop eax
        ret
.refused:
        push eax
        call print
        db 'kernel-pv: hypercall ', 0
        mov eax, ecx
        call put_dec
        call print
        db ' refused the table at ', 0
        mov eax, ebx
        call put_hex
        call print
        db ' (machine): error ', 0
        pop eax
        jmp pv_panic_sdec

; pv_new_base: makes the page directory at pseudo-physical address EAX the current address
; space (hypercall 7, the paravirtual MOV to CR3; it flushes the TLB). Preserves everything.
pv_new_base:
        push eax
        push ebx
        call pv_to_machine
        mov ebx, eax
        mov eax, HC_NEW_BASEPTR
        vmcall
        test eax, eax
        jnz .refused
        pop ebx
        pop eax
        ret
.refused:
        push eax
        call print
        db 'kernel-pv: hypercall 7 refused the directory at ', 0
        mov eax, ebx
        call put_hex
        call print
        db ' (machine): error ', 0
        pop eax
        jmp pv_panic_sdec

; ---- The kernel's own map ------------------------------------------------------------------------
; pv_build_kernel_map: paging_init's loop of map_page, for a paravirtual kernel: fills kernel_pd
; (a zeroed frame) with kernel_pdes directory entries and their page tables, which map every
; page of RAM from page 1 up at its pseudo-physical address, supervisor-only and writable. The
; entries hold machine frames; holes in the P2M (the VGA window, the BIOS ROM) stay unmapped.
; Plain writes: paging is off and nothing is pinned yet. One pass, no conversions per page: a
; paravirtual kernel that went through map_page and pt_write here would spend some 450,000 more
; instructions (at 32 MiB) before its first process runs - and time is instructions here, so
; the processes would meet the timer at other moments than the toy kernel's. CF set when out of
; memory.
pv_build_kernel_map:
        pushad
        mov edi, [kernel_pd]            ; the directory entry to fill
        xor ebx, ebx                    ; the page (pseudo-physical frame number)
        mov ecx, [kernel_pdes]
.table:
        push ecx
        call frame_alloc                ; zeroed
        test eax, eax
        jz .no_memory
        mov esi, eax
        call pv_to_machine
        or eax, PG_PRESENT | PG_WRITE   ; supervisor: the table's entries say no more
        mov [edi], eax
        add edi, 4
        xor ecx, ecx
.entry:
        cmp ebx, [pv_frames]
        jae .next                       ; past the end of RAM
        mov eax, [pv_p2m + ebx * 4]
        cmp eax, PV_NO_FRAME
        je .next                        ; a hole
        shl eax, 12
        or eax, PG_PRESENT | PG_WRITE
        mov [esi + ecx * 4], eax
.next:
        inc ebx
        inc ecx
        cmp ecx, 1024
        jb .entry
        pop ecx
        loop .table
        mov eax, [kernel_pd]            ; page 0 stays unmapped: a NULL pointer faults
        mov eax, [eax]
        and eax, PG_FRAME
        call pv_to_phys
        mov dword [eax], 0
        popad
        clc
        ret
.no_memory:
        pop ecx
        popad
        stc
        ret

; pv_pin_kernel: pv_build_kernel_map has built kernel_pd and its page tables with plain writes:
; to the VMM they are ordinary frames still. Maps each of them read-only in the kernel's map
; (plain writes too: nothing is pinned yet), then pins the tables, then the directory, which
; checks every entry. From here on the kernel's tables change only through the VMM.
pv_pin_kernel:
        pushad
        mov eax, [kernel_pd]
        call .read_only
        mov esi, [kernel_pd]
        mov ecx, [kernel_pdes]
.each_table:
        mov eax, [esi]
        and eax, PG_FRAME
        call pv_to_phys
        call .read_only
        add esi, 4
        loop .each_table
        mov esi, [kernel_pd]
        mov edx, [kernel_pdes]
        mov ecx, HC_PIN_L1
.pin:
        mov eax, [esi]
        and eax, PG_FRAME
        call pv_to_phys
        call pv_table_call
        add esi, 4
        dec edx
        jnz .pin
        mov eax, [kernel_pd]
        mov ecx, HC_PIN_L2
        call pv_table_call
        popad
        ret
.read_only:                             ; the kernel map's entry for EAX: clear its write bit
        push eax
        push edi
        call pv_kernel_pte
        mov eax, edi
        call pv_to_phys                 ; (paging is off: memory is pseudo-physical)
        and dword [eax], ~PG_WRITE
        pop edi
        pop eax
        ret

; pv_panic_eax, pv_panic_sdec: end the message with EAX (in hexadecimal, or signed decimal), then
; panic (faults.asm).
pv_panic_eax:
        call put_hex
        jmp pv_panic_line
pv_panic_sdec:
        call put_sdec
pv_panic_line:
        mov al, 10
        call putc
        jmp panic
