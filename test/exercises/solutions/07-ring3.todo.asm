;; The work of exercise 07: what goes at each TODO of guests/exercises/07-ring3/start.asm,
;; in order (test/exercises/solutions.ts puts it there; the rest of the solution is the skeleton).
;; TODO
        mov word [edi + 4], 0xEE00      ; present, 32-bit interrupt gate, DPL 3
;; TODO
        mov dword [tss + 4], kernel_stack_top
        mov dword [tss + 8], DATA_SEL
        mov eax, tss
        shl eax, 16
        or eax, 103
        mov [gdt_tss], eax
        mov eax, tss
        mov edx, eax
        and eax, 0xFF000000
        shr edx, 16
        and edx, 0xFF
        or eax, edx
        or eax, 0x8900
        mov [gdt_tss + 4], eax
        mov ax, TSS_SEL
        ltr ax
;; TODO
        push USER_DATA
        push user_stack_top
        pushfd
        push USER_CODE
        push user_main
        iretd
