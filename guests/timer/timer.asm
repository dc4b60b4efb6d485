; timer.asm - counts the timer's interrupts. The BIOS programmed the 8254 to interrupt 18.2
; times a second on IRQ 0; its INT 08h handler counts them at 0040:006C and then calls INT
; 1Ch, the hook left for programs. This guest puts its own handler in the IVT at 1Ch, sleeps
; with HLT until its handler has counted TICKS interrupts, and prints its count and the
; BIOS's, which started from 0 at the same moment (INT 1Ah AH=01h).
;
; Each HLT sleeps until the next interrupt; in minivisor, time is virtual, so a sleeping guest
; costs nothing and the count comes out the same on every run.
        bits 16
        org 0x7C00

TICKS equ 10

start:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        cli
        mov word [0x1C * 4], tick_handler       ; INT 1Ch -> tick_handler (offset...
        mov word [0x1C * 4 + 2], 0              ; ...and segment)
        mov ah, 0x01            ; INT 1Ah AH=01h: set the BIOS tick count to CX:DX = 0
        xor cx, cx
        xor dx, dx
        int 0x1A
        mov word [count], 0
        sti
.wait:
        hlt                     ; sleep until an interrupt
        cmp word [count], TICKS
        jb .wait
        cli
        mov si, msg_count
        call print
        mov ax, [count]
        call print_hex16
        mov si, msg_bios
        call print
        xor ah, ah              ; INT 1Ah AH=00h: the BIOS tick count in CX:DX
        int 0x1A
        mov ax, cx
        call print_hex16
        mov ax, dx
        call print_hex16
        mov si, msg_end
        call print
.halt:
        cli
        hlt
        jmp .halt

; The INT 1Ch handler: called by the BIOS's INT 08h on every tick, before its EOI.
tick_handler:
        inc word [cs:count]
        iret

count:  dw 0

; print: prints the zero-terminated string at DS:SI.
print:
        lodsb
        test al, al
        jz .done
        call print_char
        jmp print
.done:
        ret

; print_hex16: prints AX as four hexadecimal digits.
print_hex16:
        push cx
        mov cx, 4
.digit:
        rol ax, 4
        push ax
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 7
.out:
        call print_char
        pop ax
        loop .digit
        pop cx
        ret

print_char:
        push ax
        push bx
        mov ah, 0x0E
        xor bx, bx
        int 0x10
        pop bx
        pop ax
        ret

msg_count:      db 'timer: INT 1Ch counted 0x', 0
msg_bios:       db ' ticks, the BIOS tick count is 0x', 0
msg_end:        db 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
