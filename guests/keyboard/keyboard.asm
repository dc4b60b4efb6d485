; keyboard.asm - echoes what is typed, read through the BIOS (INT 16h), until Enter; then
; prints the whole line back and halts.
;
; INT 16h AH=00h waits for a key and returns AH = its scan code, AL = its character. The key
; got there through IRQ 1: the BIOS's INT 09h handler read the scan code from the keyboard
; controller, turned it into a character and queued both in the BDA's ring buffer.
        bits 16
        org 0x7C00

MAX_LINE equ 60

start:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov si, msg_prompt
        call print
        mov di, line            ; where the typed characters go
.key:
        xor ah, ah              ; wait for a key
        int 0x16
        cmp al, 13              ; Enter ends the line
        je .enter
        cmp al, 8               ; Backspace: forget the last character, and rub it out
        je .backspace
        cmp al, ' '
        jb .key                 ; other control keys, and keys without a character (F1, arrows)
        cmp di, line + MAX_LINE
        jae .key                ; the line is full
        stosb
        call print_char         ; echo it
        jmp .key
.backspace:
        cmp di, line
        je .key
        dec di
        mov si, msg_rubout
        call print
        jmp .key
.enter:
        mov byte [di], 0
        mov si, msg_result
        call print
        mov si, line
        call print
        mov si, msg_end
        call print
.halt:
        cli
        hlt
        jmp .halt

; print: prints the zero-terminated string at DS:SI.
print:
        lodsb
        test al, al
        jz .done
        call print_char
        jmp print
.done:
        ret

; print_char: prints AL with INT 10h teletype (the screen and COM1).
print_char:
        push ax
        push bx
        mov ah, 0x0E
        xor bx, bx
        int 0x10
        pop bx
        pop ax
        ret

msg_prompt:     db 'keyboard: type a line, then Enter: ', 0
msg_rubout:     db 8, ' ', 8, 0
msg_result:     db 13, 10, 'keyboard: you typed "', 0
msg_end:        db '"', 13, 10, 0

line:   times MAX_LINE + 1 db 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
