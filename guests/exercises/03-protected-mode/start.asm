; Exercise 03: switch to 32-bit protected mode with a flat GDT, and print from there.
        bits 16
        org 0x7C00

CODE_SEL equ 0x08               ; the GDT's descriptor 1
DATA_SEL equ 0x10               ; descriptor 2

start:
        cli                     ; no IDT for protected mode: interrupts stay off
        xor ax, ax
        mov ds, ax

        ; TODO: load GDTR (lgdt [gdt_descriptor]), set CR0.PE, and jump to pm32 with a far
        ; JMP through CODE_SEL.

.stuck:
        hlt                     ; still in real mode: the switch is not done yet
        jmp .stuck

gdt:
        dq 0                    ; descriptor 0: the null descriptor, never used
        ; TODO: descriptor 1, code: base 0, limit 4 GiB, 32-bit, readable, ring 0
        ; TODO: descriptor 2, data: base 0, limit 4 GiB, writable, ring 0
gdt_end:

gdt_descriptor:
        dw gdt_end - gdt - 1    ; the size of the GDT, less one
        dd gdt                  ; its linear address

        bits 32
pm32:
        mov ax, DATA_SEL
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, 0x7C00
        mov esi, message
        call print32
.done:
        hlt
        jmp .done

; print32: writes the zero-terminated string at ESI to COM1, waiting for the UART each time.
print32:
        lodsb
        test al, al
        jz .end
        mov ah, al
        mov dx, 0x3FD           ; line status
.wait:
        in al, dx
        test al, 0x20           ; the transmitter can take a byte
        jz .wait
        mov al, ah
        mov dx, 0x3F8           ; data
        out dx, al
        jmp print32
.end:
        ret

message:
        db 'protected mode: on', 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
