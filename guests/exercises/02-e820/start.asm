; Exercise 02: read the BIOS's E820 memory map and print the usable RAM in KiB.
        bits 16
        org 0x7C00

SMAP    equ 0x534D4150          ; 'SMAP': the signature E820 wants in EDX and answers in EAX

start:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        xor ebp, ebp            ; the usable bytes found so far

        ; TODO: read the map, one range per INT 15h (EAX = 0xE820, EDX = SMAP, ECX = 20,
        ; EBX = 0 at first, then as the BIOS left it; ES:DI = entry), and add the length of
        ; each range of type 1 to EBP. Stop when EBX comes back 0 (or CF is set).

        mov si, label
        call print_string
        mov eax, ebp
        shr eax, 10             ; bytes to KiB
        call print_dec32
        mov si, unit
        call print_string
.done:
        cli
        hlt
        jmp .done

; print_string: prints the zero-terminated string at DS:SI (its own SI; ESI's high half kept).
print_string:
        push esi
.next:
        lodsb
        test al, al
        jz .end
        call print_char
        jmp .next
.end:
        pop esi
        ret

; print_dec32: prints EAX in decimal.
print_dec32:
        pushad
        mov ebx, 10
        xor cx, cx
.divide:
        xor edx, edx
        div ebx
        push dx                 ; the digits come out lowest first
        inc cx
        test eax, eax
        jnz .divide
.print:
        pop ax
        add al, '0'
        call print_char
        loop .print
        popad
        ret

; print_char: prints AL with the BIOS's teletype.
print_char:
        pusha
        mov ah, 0x0E
        xor bx, bx
        int 0x10
        popa
        ret

label:  db 'usable RAM: ', 0
unit:   db ' KiB', 13, 10, 0

entry:  times 24 db 0           ; where the BIOS writes one range: base, length, type

        times 510 - ($ - $$) db 0
        dw 0xAA55
