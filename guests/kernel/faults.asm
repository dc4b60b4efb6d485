; faults.asm - the CPU's exceptions (vectors 0-19).
;
; A page fault in ring 3 may be a page the process is entitled to but does not have yet: its
; heap (below its break) and its stack (down to USER_STACK_MAX below the top) are "demand-zero":
; nothing is mapped until first touched, then the fault handler maps a zeroed frame and the
; faulting instruction runs again. Any other exception in ring 3 - a page fault outside those
; ranges, a write to a read-only page, `cli` (#GP: IOPL is 0), a division by zero - kills the
; process with a message; the others carry on. An exception in ring 0 is a bug in the kernel:
; it panics.

exception_names:
        dd .de, .db, .nmi, .bp, .of, .br, .ud, .nm, .df, .cso, .ts, .np, .ss, .gp, .pf, .res, .mf, .ac, .mc, .xm
.de:    db 'divide error', 0
.db:    db 'debug exception', 0
.nmi:   db 'non-maskable interrupt', 0
.bp:    db 'breakpoint', 0
.of:    db 'overflow', 0
.br:    db 'bound range exceeded', 0
.ud:    db 'invalid opcode', 0
.nm:    db 'device not available', 0
.df:    db 'double fault', 0
.cso:   db 'coprocessor segment overrun', 0
.ts:    db 'invalid TSS', 0
.np:    db 'segment not present', 0
.ss:    db 'stack-segment fault', 0
.gp:    db 'general protection fault', 0
.pf:    db 'page fault', 0
.res:   db 'reserved exception 15', 0
.mf:    db 'x87 floating-point error', 0
.ac:    db 'alignment check', 0
.mc:    db 'machine check', 0
.xm:    db 'SIMD floating-point exception', 0

; exception: EBP = the frame, EAX = the vector (0-31).
exception:
        cmp eax, 14
        jne .other
        mov ebx, cr2                    ; the address that faulted
        test dword [ebp + F_CS], 3
        jz kernel_fault                 ; ring 0
        test dword [ebp + F_ERROR], PF_PRESENT
        jnz .kill_pf                    ; a protection violation: never fixed up
        call demand_page                ; heap or stack? then map it
        jc .kill_pf
        inc dword [stat_faults]
        ret                             ; IRET re-runs the instruction, which now succeeds
.kill_pf:
        call print_current
        call print
        db ' killed: page fault at ', 0
        mov eax, ebx
        call put_hex
        call print
        db ': ', 0
        call describe_page_fault
        jmp .killed
.other:
        test dword [ebp + F_CS], 3
        jz kernel_fault
        call print_current
        call print
        db ' killed: ', 0
        call print_exception_name
        call print
        db ' at eip ', 0
        mov eax, [ebp + F_EIP]
        call put_hex
        cmp dword [ebp + F_VECTOR], 13  ; #GP: say what the error code says
        jne .killed
        call print
        db ' (error code ', 0
        mov eax, [ebp + F_ERROR]
        call put_hex
        call print
        db ')', 0
.killed:
        mov al, 10
        call putc
        inc dword [stat_killed]
        mov eax, -1                     ; the exit code of a killed process
        jmp proc_exit

; describe_page_fault: prints what the error code (and the page tables) say about the fault at
; EBX: "read of" or "write to", then "a page that is not mapped", "a supervisor page" or "a
; read-only page".
describe_page_fault:
        mov ecx, [ebp + F_ERROR]
        test ecx, PF_WRITE
        jnz .write
        call print
        db 'read of ', 0
        jmp .what
.write:
        call print
        db 'write to ', 0
.what:
        test ecx, PF_PRESENT
        jnz .present
        call print
        db 'a page that is not mapped', 0
        ret
.present:
        mov edx, [current]              ; present, so a protection violation: which one?
        mov edx, [edx + P_PD]
        call lookup_pte
        test eax, PG_USER
        jnz .read_only
        call print
        db 'a supervisor page', 0
        ret
.read_only:
        call print
        db 'a read-only page', 0
        ret

; demand_page: the current process touched EBX, which is not mapped. If EBX is in its heap
; (USER_HEAP up to its break) or its stack (USER_STACK_MAX below USER_STACK_TOP), maps a zeroed
; frame there, writable, and returns CF clear. Otherwise (or out of memory) CF set.
; Preserves EBX.
demand_page:
        mov edx, [current]
        cmp ebx, USER_HEAP
        jb .stack
        cmp ebx, [edx + P_BRK]
        jb .map
.stack:
        cmp ebx, USER_STACK_TOP - USER_STACK_MAX
        jb .no
        cmp ebx, USER_STACK_TOP
        jae .no
.map:
        mov edx, [edx + P_PD]
        call frame_alloc                ; zero-filled
        test eax, eax
        jz .no
        or eax, PG_PRESENT | PG_WRITE | PG_USER
        push ebx
        and ebx, PG_FRAME
        call map_page
        pop ebx
        jc .no_table
        inc dword [stat_demand]
        clc
        ret
.no_table:
        and eax, PG_FRAME
        call frame_free
.no:
        stc
        ret

; print_exception_name: prints the name of the frame's vector.
print_exception_name:
        mov eax, [ebp + F_VECTOR]
        cmp eax, 20
        jae .unknown
        mov esi, [exception_names + eax * 4]
        jmp puts
.unknown:
        call print
        db 'exception ', 0
        jmp put_dec

; kernel_fault: an exception in ring 0, which only a kernel bug causes. Prints what is known
; and stops.
kernel_fault:
        call print
        db 'kernel panic: ', 0
        call print_exception_name
        call print
        db ' in the kernel at eip ', 0
        mov eax, [ebp + F_EIP]
        call put_hex
        call print
        db ', error code ', 0
        mov eax, [ebp + F_ERROR]
        call put_hex
        call print
        db ', cr2 ', 0
        mov eax, cr2
        call put_hex
        mov al, 10
        call putc
; panic: stops the machine for good (and ends QEMU with exit status 3).
panic:
        mov al, 1
        out EXIT_PORT, al
.halt:
        cli
        hlt
        jmp .halt
