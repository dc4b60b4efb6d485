; fwcfg.asm - reading minivisor's firmware configuration (docs/firmware-interface.md).
;
; Select an item by writing its number to port 0x510 (16 bits), then read its bytes one by
; one from port 0x511. Reading past the end gives zeros.

; fw_select: selects item AX. Preserves all registers.
fw_select:
        push dx
        mov dx, FW_CFG_SELECT
        out dx, ax
        pop dx
        ret

; fw_read8: AL = the next byte of the selected item.
fw_read8:
        push dx
        mov dx, FW_CFG_DATA
        in al, dx
        pop dx
        ret

; fw_read16: AX = the next two bytes (little-endian).
fw_read16:
        call fw_read8
        mov ah, al
        call fw_read8
        xchg al, ah
        ret

; fw_read32: EAX = the next four bytes (little-endian). Each byte is read into AL and rotated
; to the top of EAX; after four, the first byte is back at the bottom.
fw_read32:
        push cx
        mov cx, 4
.byte:
        call fw_read8
        ror eax, 8
        loop .byte
        pop cx
        ret

; fw_read_block: copies the next CX bytes to ES:DI (DI advances). INSB reads port DX into ES:DI.
fw_read_block:
        push dx
        mov dx, FW_CFG_DATA
        cld
        rep insb
        pop dx
        ret

; fw_skip: skips the next CX bytes.
fw_skip:
        jcxz .done
        push ax
.byte:
        call fw_read8
        loop .byte
        pop ax
.done:
        ret
