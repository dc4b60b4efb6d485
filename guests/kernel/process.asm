; process.asm - making a process, and ending one.
;
; A process starts life as if it had been interrupted just before its first instruction:
; proc_create writes on its new kernel stack the frame isr_common would have saved (user code
; and data selectors, EIP = its entry point, ESP = the top of its stack, EFLAGS with IF set),
; and below it what switch_to expects to pop, with intr_return as the return address. The
; first time the scheduler switches to it, it "returns" through intr_return and IRET into
; ring 3.

; proc_create: makes a process that runs the user program entry EAX (a virtual address in
; the user image, user.asm), named by the string at ESI. Gives it an address space with its own
; copy of the user image at USER_BASE, read-only; its heap and stack start empty and grow on
; demand (faults.asm). Returns CF set if there is no free slot or memory.
proc_create:
        pushad
        mov ebp, eax                    ; the entry point
        mov ebx, procs                  ; a free slot
.slot:
        cmp dword [ebx + P_STATE], P_UNUSED
        je .got_slot
        add ebx, PROC_SIZE
        cmp ebx, procs + MAX_PROCS * PROC_SIZE
        jb .slot
        jmp .fail
.got_slot:
        inc dword [last_pid]
        mov eax, [last_pid]
        mov [ebx + P_PID], eax
        mov [ebx + P_NAME], esi
        mov dword [ebx + P_BRK], USER_HEAP
        call address_space_create
        test eax, eax
        jz .fail
        mov [ebx + P_PD], eax

        ; The user image, a page at a time: a fresh frame, a copy, a read-only user mapping.
        mov edx, eax                    ; the address space
        push ebx
        mov ebx, USER_BASE              ; virtual address of the page
        mov esi, USER_LOAD              ; where the kernel loaded the image
.page:
        call frame_alloc
        test eax, eax
        jz .fail_pop
        mov edi, eax
        mov ecx, PAGE_SIZE / 4
        push esi
        rep movsd
        pop esi
        or eax, PG_PRESENT | PG_USER    ; not PG_WRITE: code and constants are read-only
        call map_page
        jc .fail_pop
        add esi, PAGE_SIZE
        add ebx, PAGE_SIZE
        cmp ebx, USER_BASE + user_image_size
        jb .page
        pop ebx

        ; The kernel stack: index in the table -> its slice of kstacks.
        mov eax, ebx
        sub eax, procs
        shr eax, 6                      ; / PROC_SIZE (64)
        inc eax
        shl eax, 12                     ; * KSTACK_SIZE, to the top of the slice
        add eax, kstacks
        mov [ebx + P_KSTACK_TOP], eax
        ; The frame an interrupt from ring 3 would have left, top down (layout.inc: F_*).
        lea edi, [eax - FRAME_SIZE]
        mov ecx, FRAME_SIZE / 4
        push edi
        xor eax, eax
        rep stosd                       ; general registers all zero
        pop edi
        mov dword [edi + F_USER_SS], USER_DS
        mov dword [edi + F_USER_ESP], USER_STACK_TOP
        mov dword [edi + F_EFLAGS], 0x202 ; IF = 1 (bit 1 is always 1); IOPL = 0
        mov dword [edi + F_CS], USER_CS
        mov [edi + F_EIP], ebp
        mov dword [edi + F_DS], USER_DS
        mov dword [edi + F_ES], USER_DS
        mov dword [edi + F_FS], USER_DS
        mov dword [edi + F_GS], USER_DS
        ; Below it, what switch_to pops: EDI, ESI, EBX, EBP (zeros), then its return address.
        sub edi, 4
        mov dword [edi], intr_return
        sub edi, 16
        mov [ebx + P_KESP], edi
        mov dword [ebx + P_STATE], P_RUNNABLE
        popad
        clc
        ret
.fail_pop:
        pop ebx
.fail:
        popad
        stc
        ret

; proc_exit: ends the current process with the exit code EAX: returns its memory (after
; leaving its address space for the kernel's), marks it dead and schedules another. Never
; returns. Its kernel stack - the one we are on - is not reused.
proc_exit:
        mov ebx, [current]
        mov [ebx + P_EXIT], eax
        mov eax, [kernel_pd]
        call set_cr3
        mov edx, [ebx + P_PD]
        call address_space_free
        mov dword [ebx + P_STATE], P_DEAD
        call schedule
        ; not reached: a dead process is never chosen again

; print_current: prints "process N (name)" for the current process.
print_current:
        push eax
        push esi
        mov esi, [current]
        call print
        db 'process ', 0
        mov eax, [esi + P_PID]
        call put_dec
        mov al, ' '
        call putc
        mov al, '('
        call putc
        mov esi, [esi + P_NAME]
        call puts
        mov al, ')'
        call putc
        pop esi
        pop eax
        ret
