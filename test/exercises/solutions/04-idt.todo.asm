;; The work of exercise 04: what goes at each TODO of guests/exercises/04-idt/start.asm,
;; in order (test/exercises/solutions.ts puts it there; the rest of the solution is the skeleton).
;; TODO
        mov eax, de_handler
        mov edi, idt + 8 * 0
        call set_gate
        mov eax, gp_handler
        mov edi, idt + 8 * 13
        call set_gate
        lidt [idt_descriptor]
        jmp gates_done
; set_gate: a present 32-bit interrupt gate, DPL 0, at EDI, to the handler at EAX.
set_gate:
        mov [edi], ax
        mov word [edi + 2], CODE_SEL
        mov word [edi + 4], 0x8E00
        shr eax, 16
        mov [edi + 6], ax
        ret
gates_done:
;; TODO
        mov esi, caught_de
        call print
        mov eax, [esp]
        call print_hex
        mov esi, newline
        call print
        add dword [esp], 2
        iretd
;; TODO
        mov esi, caught_gp
        call print
        mov eax, [esp]
        call print_hex
        mov esi, newline
        call print
        add esp, 4
        add dword [esp], 2
        iretd
