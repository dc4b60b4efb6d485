; Exercise 04: an IDT whose handlers catch #DE and #GP, report them, and let the program go on.
%include "boot32.inc"           ; boots, enters 32-bit protected mode, jumps to main

main:
        ; TODO: fill the IDT's gates for vector 0 (#DE) with de_handler and 13 (#GP) with
        ; gp_handler (32-bit interrupt gates, selector CODE_SEL, present, DPL 0), and load
        ; IDTR with LIDT [idt_descriptor].

        xor edx, edx
        mov eax, 1
        xor ecx, ecx
        div ecx                 ; 1 / 0: #DE (this DIV is 2 bytes long)
        mov esi, after_de
        call print
        mov ax, 0x38            ; a selector past the GDT's end
        mov ds, ax              ; #GP, error code 0x38 (this MOV is 2 bytes long)
        mov esi, after_gp
        call print
.done:
        hlt
        jmp .done

de_handler:
        ; TODO: print "caught #DE at " and the EIP the CPU pushed (print_hex), then a line
        ; end; move the saved EIP past the 2-byte DIV and return (IRETD).
        hlt

gp_handler:
        ; TODO: print "caught #GP, error code " and the error code the CPU pushed; take it
        ; off the stack, move the saved EIP past the 2-byte MOV, and return.
        hlt

after_de: db 'back from #DE', 13, 10, 0
after_gp: db 'back from #GP', 13, 10, 0
caught_de: db 'caught #DE at ', 0
caught_gp: db 'caught #GP, error code ', 0
newline:  db 13, 10, 0

        align 8
idt:    times 32 dq 0           ; gates 0-31: the exceptions
idt_end:
idt_descriptor:
        dw idt_end - idt - 1
        dd idt
