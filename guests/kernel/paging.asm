; paging.asm - two-level 32-bit paging: page directories and page tables.
;
; A virtual address splits into 10 + 10 + 12 bits: the page directory index (which 4 MiB),
; the page table index (which 4 KiB page in it), and the offset in the page. CR3 holds the
; physical address of the page directory; each present directory entry points to a page table;
; each present table entry points to a 4 KiB frame. Bits in the entries: present, writable,
; user (layout.inc: PG_*). The CPU combines the directory's and the table's bits: a page is
; usable from ring 3 only if both say "user", writable only if both say "writable". With
; CR0.WP set, even the kernel cannot write to a page that is not writable.
;
; Every address space (one per process, plus kernel_pd for the kernel alone) shares the
; kernel's page tables: the first directory entries point to the same tables, which map
; physical memory at the same virtual addresses, supervisor-only.
;
; Every write to a page directory or page table goes through the routines just below.
; A paravirtual variant of this kernel replaces them with hypercalls, and keeps the rest.
;
; That variant is this file assembled with PV defined (guests/kernel-pv): the %ifdef PV parts.
; Under minivisor --mode pv the tables hold machine frames, which the VMM checks: an entry's
; frame is turned from pseudo-physical to machine on the way in (pt_write) and back on the way
; out (lookup_pte, map_page, address_space_free); a table is read-only in the kernel's map and
; pinned before it is used, and changed only through the VMM from then on (routines in
; guests/kernel-pv/pv.asm). Addresses the kernel itself follows stay pseudo-physical.

; ---- The page-table primitives --------------------------------------------------------------------
; pt_write: stores EAX in the entry (of a page directory or page table) at physical address EDI.
; A physical address is usable as is: the kernel maps physical memory at the same addresses.
%ifdef PV
; PV: the entry is in a pinned table, so mmu_update writes it, at EDI's machine address, with
; EAX's frame turned into its machine frame.
pt_write:
        push eax
        push edi
        call pv_entry_to_machine
        xchg eax, edi
        call pv_to_machine
        xchg eax, edi
        call pv_queue
        call pv_commit
        pop edi
        pop eax
        ret
%else
pt_write:
        mov [edi], eax
        ret
%endif

; pt_alloc: returns in EAX a new, empty page directory or page table (a zeroed frame), or 0.
%ifdef PV
; PV: a page table only (directories are made by paging_init and address_space_create), made
; read-only in the kernel's map and pinned as an L1 before it is returned.
pt_alloc:
        call frame_alloc
        test eax, eax
        jz .out
        call pv_protect
        push ecx
        mov ecx, HC_PIN_L1
        call pv_table_call
        pop ecx
.out:
        ret
%else
pt_alloc:
        jmp frame_alloc
%endif

; set_cr3: makes the page directory at physical address EAX the current address space. Loading
; CR3 also empties the TLB of the previous address space's translations.
set_cr3:
%ifdef PV
        jmp pv_new_base                 ; PV: hypercall 7 (MOV to CR3 is #GP)
%else
        mov cr3, eax
        ret
%endif

; flush_page: makes the TLB forget the translation of the virtual address EBX in the current
; address space - needed after an entry that was present changes (not after one is added).
flush_page:
        invlpg [ebx]
        ret

; ---- Building on them ---------------------------------------------------------------------------
; lookup_pte: in the address space EDX, finds the page table entry for the virtual address EBX.
; Returns EDI = its physical address (0 when there is no page table for it) and EAX = the entry
; with the directory entry's flags ANDed in, so that its flags say what the CPU would allow
; (0 when there is no table).
lookup_pte:
        mov edi, ebx
        shr edi, 22
        mov eax, [edx + edi * 4]        ; the directory entry
        test eax, PG_PRESENT
        jz .none
        push eax
        mov edi, eax
        and edi, PG_FRAME               ; the page table
%ifdef PV
        mov eax, edi                    ; PV: its machine frame -> where the kernel sees it
        call pv_to_phys
        mov edi, eax
%endif
        mov eax, ebx
        shr eax, 12
        and eax, 1023
        lea edi, [edi + eax * 4]        ; the table entry
        pop eax
        or eax, PG_FRAME                ; the directory entry's flags (all frame bits kept)...
        and eax, [edi]                  ; ... AND the table entry
%ifdef PV
        call pv_entry_to_phys           ; PV: and the page's frame pseudo-physical
%endif
        ret
.none:
        xor edi, edi
        xor eax, eax
        ret

; map_page: in the address space EDX, maps the virtual address EBX to the entry EAX (a frame's
; physical address with PG_* flags). Makes the page table if there is none yet. Returns CF set
; when out of memory. Preserves everything else.
map_page:
        push eax
        push ecx
        push edi
        mov ecx, eax                    ; the entry to write
        mov edi, ebx
        shr edi, 22
        lea edi, [edx + edi * 4]        ; the directory entry
        test dword [edi], PG_PRESENT
        jnz .have_table
        call pt_alloc
        test eax, eax
        jz .no_memory
        or eax, PG_PRESENT | PG_WRITE | PG_USER ; the table's entries decide each page's rights
        call pt_write
.have_table:
        mov edi, [edi]
        and edi, PG_FRAME
%ifdef PV
        mov eax, edi                    ; PV: the table's machine frame -> pseudo-physical
        call pv_to_phys
        mov edi, eax
%endif
        mov eax, ebx
        shr eax, 12
        and eax, 1023
        lea edi, [edi + eax * 4]        ; the table entry
        mov eax, ecx
        call pt_write
        clc
        jmp .out
.no_memory:
        stc
.out:
        pop edi
        pop ecx
        pop eax
        ret

; paging_init: builds kernel_pd, which maps physical memory [0, memory_top) - rounded up to
; whole page tables, 4 MiB each - at the same addresses, supervisor-only and writable. Page 0
; stays unmapped: a NULL pointer in the kernel then faults. Then turns paging on.
paging_init:
        pushad
%ifdef PV
        call pv_init                    ; PV: the P2M from the VMM (or stop here)
        call frame_alloc                ; PV: a plain frame, pinned as a directory once filled
%else
        call pt_alloc
%endif
        mov [kernel_pd], eax
        mov edx, eax
        mov eax, [memory_top]           ; how many directory entries the kernel needs
        add eax, 0x3FFFFF
        shr eax, 22
        mov [kernel_pdes], eax
%ifdef PV
        call pv_build_kernel_map        ; PV: the same map, in machine frames, with plain writes;
        jc .no_memory                   ; then read-only where it maps itself, and pinned
        call pv_pin_kernel
%else
        mov ebx, PAGE_SIZE              ; from page 1
.page:
        mov eax, ebx
        or eax, PG_PRESENT | PG_WRITE   ; supervisor: PG_USER clear
        call map_page
        jc .no_memory
        add ebx, PAGE_SIZE
        mov eax, [kernel_pdes]
        shl eax, 22
        cmp ebx, eax
        jb .page
        mov edi, [kernel_pd]            ; map_page made the tables user-accessible at the
        mov ecx, [kernel_pdes]          ; directory level; the kernel's are supervisor-only
.pde:
        mov eax, [edi]
        and eax, ~PG_USER
        call pt_write
        add edi, 4
        loop .pde
%endif
        mov eax, [kernel_pd]
        call set_cr3
        mov eax, cr0
        or eax, 0x80010000              ; CR0.PG (bit 31): paging on; CR0.WP (bit 16)
        mov cr0, eax
        jmp .on                         ; (the next instruction is fetched through the tables)
.on:
        popad
        ret
.no_memory:
        call print
        db 'kernel: no memory for the page tables', 10, 0
        jmp panic

; address_space_create: returns in EAX a new page directory that maps the kernel (its
; directory entries copied from kernel_pd) and nothing else; 0 when out of memory.
address_space_create:
        push ecx
        push esi
        push edi
%ifdef PV
        call frame_alloc                ; PV: a plain frame, filled before it becomes a directory
%else
        call pt_alloc
%endif
        test eax, eax
        jz .out
        mov esi, [kernel_pd]
        mov edi, eax
        mov ecx, [kernel_pdes]
        push eax
.copy:
        mov eax, [esi]
%ifdef PV
        mov [edi], eax                  ; PV: not a table yet; the entry names a machine frame already
%else
        call pt_write
%endif
        add esi, 4
        add edi, 4
        loop .copy
        pop eax
%ifdef PV
        call pv_protect                 ; PV: read-only in the kernel's map, then pinned as a
        push ecx                        ; directory (the VMM checks every entry)
        mov ecx, HC_PIN_L2
        call pv_table_call
        pop ecx
%endif
.out:
        pop edi
        pop esi
        pop ecx
        ret

; address_space_free: gives back every frame of the user half of the address space EDX (its
; pages and page tables) and the page directory itself. The kernel's tables are shared and
; stay. EDX must not be the current CR3.
; PV: the directory is unpinned first (then nothing uses the process's page tables), each table is
; unpinned when its pages are freed, and the kernel's map of them all is made writable again in
; one mmu_update at the end. (The frames go back to the bitmap before that batch is sent, but
; nothing allocates until this returns.)
address_space_free:
        pushad
%ifdef PV
        mov eax, edx
        mov ecx, HC_UNPIN
        call pv_table_call
%endif
        mov esi, USER_BASE >> 22        ; directory index
.pde:
        mov ebx, [edx + esi * 4]
        test ebx, PG_PRESENT
        jz .next_pde
        and ebx, PG_FRAME               ; the page table
%ifdef PV
        mov eax, ebx                    ; PV: machine frames in the entries -> pseudo-physical
        call pv_to_phys
        mov ebx, eax
%endif
        xor ecx, ecx
.pte:
        mov eax, [ebx + ecx * 4]
        test eax, PG_PRESENT
        jz .next_pte
        and eax, PG_FRAME
%ifdef PV
        call pv_to_phys
%endif
        call frame_free
.next_pte:
        inc ecx
        cmp ecx, 1024
        jb .pte
        mov eax, ebx
%ifdef PV
        mov ecx, HC_UNPIN
        call pv_table_call
        call pv_unprotect
%endif
        call frame_free
.next_pde:
        inc esi
        cmp esi, USER_TOP >> 22
        jb .pde
        mov eax, edx
%ifdef PV
        call pv_unprotect
        call pv_commit
%endif
        call frame_free
        popad
        ret
