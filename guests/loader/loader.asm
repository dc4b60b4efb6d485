; loader.asm - a two-stage boot loader. The BIOS loads only the first sector (512 bytes) of
; the disk; a boot sector that needs more code loads the rest itself. This one asks whether
; the BIOS has the INT 13h extensions (AH=41h), reads its second stage - the next four
; sectors - with an extended read (AH=42h), which addresses sectors by number (LBA) instead
; of cylinder/head/sector, and jumps to it.
;
; One file makes the whole image: the boot sector, then the second stage, padded to whole
; sectors. The second stage is read to 0000:7E00, right after the boot sector, so its
; addresses follow on from org 7C00h.
        bits 16
        org 0x7C00

STAGE2_SECTORS equ 4

boot_sector:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov [boot_drive], dl    ; the BIOS says which drive we came from

        mov ah, 0x41            ; extensions present?
        mov bx, 0x55AA
        int 0x13
        jc no_extensions
        cmp bx, 0xAA55
        jne no_extensions

        mov ah, 0x42            ; extended read, described by the packet at DS:SI
        mov dl, [boot_drive]
        mov si, disk_address_packet
        int 0x13
        jc read_failed
        jmp 0x0000:stage2

no_extensions:
        mov si, msg_no_extensions
        jmp fail
read_failed:
        mov si, msg_read_failed
fail:
        call print
.halt:
        cli
        hlt
        jmp .halt

; print: prints the zero-terminated string at DS:SI with INT 10h teletype.
print:
        mov ah, 0x0E
        xor bx, bx
.char:
        lodsb
        test al, al
        jz .done
        int 0x10
        jmp .char
.done:
        ret

disk_address_packet:
        db 0x10                 ; the packet's size
        db 0
        dw STAGE2_SECTORS       ; sectors to read
        dw stage2, 0            ; to 0000:7E00 (offset, then segment)
        dq 1                    ; from sector 1 (the boot sector is sector 0)

boot_drive:             db 0
msg_no_extensions:      db 'loader: no INT 13h extensions', 13, 10, 0
msg_read_failed:        db 'loader: cannot read stage 2', 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55

; ---- Sector 1 onwards: the second stage. -------------------------------------------------
stage2:
        mov si, msg_stage2
        call print
        mov al, [boot_drive]    ; still here: the boot sector's memory was not overwritten
        call print_hex8
        mov si, msg_newline
        call print
        mov si, msg_last_sector ; from the last sector read: all four arrived
        call print
.halt:
        cli
        hlt
        jmp .halt

; print_hex8: prints AL as two hexadecimal digits.
print_hex8:
        push ax
        shr al, 4
        call .digit
        pop ax
        and al, 0x0F
.digit:
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 7
.out:
        mov ah, 0x0E
        xor bx, bx
        int 0x10
        ret

msg_stage2:     db 'loader: stage 2 running, loaded with INT 13h AH=42h from drive ', 0
msg_newline:    db 13, 10, 0

        times (512 + 3 * 512) - ($ - $$) db 0   ; sectors 1-3
msg_last_sector:
        db 'loader: this line was in sector 4 of the image', 13, 10, 0
        times (512 + STAGE2_SECTORS * 512) - ($ - $$) db 0
