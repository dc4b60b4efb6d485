; tables.asm - data in the ROM that software finds through pointers the BIOS gives it.

; The diskette parameter table (INT 1Eh points here; INT 13h AH=08h returns it in ES:DI):
; timings for the floppy controller, and the geometry of a 1.44 MB diskette.
diskette_parameters:
        db 0xAF                 ; step rate 0Ah, head unload time 0Fh
        db 0x02                 ; head load time, DMA mode
        db 0x25                 ; motor off delay, in ticks
        db 0x02                 ; bytes per sector: 128 << 2 = 512
        db 18                   ; sectors per track
        db 0x1B                 ; gap length
        db 0xFF                 ; data length
        db 0x54                 ; gap length when formatting
        db 0xF6                 ; fill byte when formatting
        db 0x0F                 ; head settle time, ms
        db 0x08                 ; motor start time, 1/8 s

; The system configuration table (INT 15h AH=C0h).
system_configuration:
        dw 8                    ; bytes that follow
        db 0xFC                 ; model: AT
        db 0x01                 ; submodel
        db 0x00                 ; BIOS revision
        db 0x64                 ; features: a second 8259 (bit 6), an RTC (bit 5), an EBDA (bit 2)
        db 0x40                 ; more features: INT 16h AH=09h (bit 6)
        db 0, 0, 0

; The global descriptor table for entering a Multiboot kernel: a null descriptor, then flat
; code (08h) and data (10h) segments, base 0, limit 4 GiB (granularity 4 KiB), 32-bit.
        align 8
multiboot_gdt:
        dq 0
        dq 0x00CF9A000000FFFF   ; 08h: code, present, ring 0, execute/read
        dq 0x00CF92000000FFFF   ; 10h: data, present, ring 0, read/write
multiboot_gdtr:
        dw multiboot_gdtr - multiboot_gdt - 1
        dd 0xF0000 + multiboot_gdt
