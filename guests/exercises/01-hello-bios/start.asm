; Exercise 01: print "Hello, minivisor!" with the BIOS's teletype (INT 10h AH=0Eh).
; The BIOS loaded this sector at 0000:7C00 and jumped here, in real mode.
        bits 16
        org 0x7C00

start:
        xor ax, ax
        mov ds, ax              ; the message is addressed from segment 0

        ; TODO: print the message, one character per INT 10h (AH=0Eh, AL = the character,
        ; BH = 0), until its terminating zero byte.

.done:
        cli
        hlt
        jmp .done

message:
        db 'Hello, minivisor!', 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55               ; the boot signature: the BIOS boots only a sector that ends so
