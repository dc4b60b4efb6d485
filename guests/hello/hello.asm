; hello.asm - the smallest boot sector that says something: "Hello, world!" through the
; BIOS's teletype (INT 10h AH=0Eh), which draws it on the screen and sends it to COM1.
        bits 16
        org 0x7C00

start:
        xor ax, ax
        mov ds, ax
        mov si, message
        mov ah, 0x0E            ; teletype output
        xor bx, bx              ; page 0
.next:
        lodsb
        test al, al
        jz .done
        int 0x10
        jmp .next
.done:
        cli
        hlt
        jmp .done

message:
        db 'Hello, world!', 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55               ; the boot signature
