; e820.asm - prints the machine's memory map as the BIOS reports it with INT 15h AX=E820h,
; one line per range: "base length type" in hexadecimal (type 1: usable RAM, 2: reserved).
;
; The call returns one range at a time. EBX carries the position from one call to the next:
; 0 to start, and 0 again after the last range. EDX must hold the signature 'SMAP', which
; the BIOS returns in EAX to show it understood.
        bits 16
        org 0x7C00

SMAP equ 0x534D4150

start:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        xor ebx, ebx            ; the first range
.next:
        mov eax, 0xE820
        mov edx, SMAP
        mov ecx, 24             ; room for the extended attributes too
        mov di, entry           ; ES:DI = where the BIOS writes the range
        int 0x15
        jc .done                ; an error (or past the end)
        cmp eax, SMAP
        jne .done
        mov eax, [entry + 4]    ; base, high dword then low
        call print_hex32
        mov eax, [entry + 0]
        call print_hex32
        call print_space
        mov eax, [entry + 12]   ; length
        call print_hex32
        mov eax, [entry + 8]
        call print_hex32
        call print_space
        mov al, [entry + 16]    ; type (1 or 2: one digit)
        call print_digit
        mov al, 13
        call print_char
        mov al, 10
        call print_char
        test ebx, ebx           ; 0: that was the last range
        jnz .next
.done:
        cli
        hlt
        jmp .done

; print_hex32: prints EAX as 8 hexadecimal digits, the highest first.
print_hex32:
        push cx
        mov cx, 8
.digit:
        rol eax, 4              ; the next digit to the bottom
        push eax
        and al, 0x0F
        call print_digit
        pop eax
        loop .digit
        pop cx
        ret

; print_digit: prints the hexadecimal digit AL (0-15).
print_digit:
        add al, '0'
        cmp al, '9'
        jbe print_char
        add al, 'A' - '9' - 1
        ; fall through
print_char:
        push ax
        push bx
        mov ah, 0x0E
        xor bx, bx
        int 0x10
        pop bx
        pop ax
        ret

print_space:
        mov al, ' '
        jmp print_char

entry:  times 24 db 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
