; post.asm - power-on self test: from reset to a machine DOS-era software can run on.

post:
        cli                     ; no interrupts until the vectors and the PICs are set up
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7C00          ; the stack grows down from where the boot sector will go
        mov ds, ax
        mov es, ax

; --- The interrupt vector table: 256 far pointers (offset, then segment) at 0000:0000. ------
; First every vector points at an IRET, so a stray INT n returns instead of running off into
; zeros; then the vectors the BIOS serves get their handlers.
        xor di, di
        mov cx, 256
.default_vector:
        mov word [di], default_handler
        mov word [di+2], 0xF000
        add di, 4
        loop .default_vector

        mov si, vector_list
.set_vector:
        mov al, [cs:si]         ; the vector number (0xFF ends the list)
        cmp al, 0xFF
        je .vectors_done
        movzx di, al
        shl di, 2
        mov ax, [cs:si+1]       ; the handler's offset in segment F000h
        mov [di], ax
        mov word [di+2], 0xF000
        add si, 3
        jmp .set_vector
.vectors_done:
        ; INT 1Eh is not code but a pointer to the diskette parameter table; 1Dh and 1Fh
        ; (video parameters, graphics characters) point at nothing.
        mov word [0x1E*4], diskette_parameters
        mov word [0x1D*4], 0
        mov word [0x1D*4+2], 0
        mov word [0x1F*4], 0
        mov word [0x1F*4+2], 0

; --- The BIOS data area, 0040:0000. ---------------------------------------------------------
        mov ax, BDA_SEG
        mov ds, ax
        mov es, ax
        xor di, di
        xor ax, ax
        mov cx, 256 / 2
        rep stosw               ; everything starts at zero

        mov word [BDA_COM1], COM1_BASE
        mov word [BDA_EBDA_SEG], EBDA_SEG
        mov word [BDA_KBD_START], BDA_KBD_BUFFER
        mov word [BDA_KBD_END], BDA_KBD_BUFFER + 32
        mov word [BDA_KBD_HEAD], BDA_KBD_BUFFER    ; head = tail: the buffer is empty
        mov word [BDA_KBD_TAIL], BDA_KBD_BUFFER
        mov byte [BDA_KBD_FLAGS3], 0x10            ; an enhanced (101-key) keyboard
        mov word [BDA_CRTC_PORT], CRTC_INDEX
        mov byte [BDA_VIDEO_MODE], 3
        mov word [BDA_COLUMNS], COLUMNS
        mov byte [BDA_ROWS_MINUS_1], ROWS - 1
        mov word [BDA_PAGE_SIZE], 0x1000
        mov word [BDA_CHAR_HEIGHT], 16
        mov word [BDA_CURSOR_SHAPE], 0x0607        ; an underline: scan lines 6 to 7
        mov byte [BDA_MODE_SELECT], 0x29
        mov byte [BDA_PALETTE], 0x30

        ; Conventional memory, as the machine reports it (639 KiB: up to the EBDA).
        mov ax, FW_MEMORY
        call fw_select
        call fw_read32
        mov [BDA_BASE_KIB], ax

; --- The extended BIOS data area: the last KiB below 640 KiB. -------------------------------
        mov ax, EBDA_SEG
        mov es, ax
        xor di, di
        xor ax, ax
        mov cx, 1024 / 2
        rep stosw
        mov byte [es:EBDA_SIZE_KIB], 1

        ; The drives: fw_cfg item 0x0012 is a count and 16-byte entries, kept as they are.
        mov ax, FW_DRIVES
        call fw_select
        call fw_read8
        cmp al, EBDA_MAX_DRIVES
        jbe .drive_count_ok
        mov al, EBDA_MAX_DRIVES
.drive_count_ok:
        mov [es:EBDA_DRIVE_COUNT], al
        movzx cx, al
        shl cx, 4               ; 16 bytes each
        mov di, EBDA_DRIVES
        call fw_read_block

        ; The MP tables (Intel MP spec 1.4), as the machine built them for this place in the
        ; EBDA, where an SMP kernel looks first: its processors, its IOAPIC, how IRQs reach it.
        mov ax, FW_MP_TABLE
        call fw_select
        call fw_read16
        cmp ax, EBDA_MP_TABLE_MAX
        ja .no_mp_table         ; too big for the EBDA: no table rather than half of one
        mov cx, ax
        mov di, EBDA_MP_TABLE
        call fw_read_block
.no_mp_table:

        ; From the drives, the equipment word and the hard-disk count:
        ;   bit 0 floppies present, bits 6-7 floppies - 1, bits 4-5 = 10b 80x25 colour,
        ;   bits 9-11 serial ports (one).
        mov bx, 0x0220          ; 80x25 colour, one serial port
        xor dx, dx              ; DL floppies, DH hard disks
        movzx cx, byte [es:EBDA_DRIVE_COUNT]
        mov si, EBDA_DRIVES
        jcxz .drives_counted
.count_drive:
        cmp byte [es:si+DRIVE_KIND], KIND_FLOPPY
        jne .not_floppy
        inc dl
        jmp .next_drive
.not_floppy:
        inc dh
.next_drive:
        add si, DRIVE_ENTRY_SIZE
        loop .count_drive
.drives_counted:
        mov [BDA_HARD_DISKS], dh
        test dl, dl
        jz .no_floppies
        or bx, 1
        dec dl
        and dl, 3
        shl dl, 6
        or bl, dl
.no_floppies:
        mov [BDA_EQUIPMENT], bx

; --- The interrupt controllers: two 8259As. -------------------------------------------------
; At power-on their vectors overlap the CPU's exceptions; the PC/AT moves IRQ 0-7 to vectors
; 08h-0Fh (where the IBM PC put them) and IRQ 8-15 to 70h-77h. Four initialisation command
; words, to each chip: ICW1 (start, ICW4 follows), ICW2 (vector base), ICW3 (cascade wiring),
; ICW4 (8086 mode).
        mov al, 0x11            ; ICW1: edge-triggered, cascade, ICW4 needed
        out PIC1_COMMAND, al
        out PIC2_COMMAND, al
        mov al, 0x08            ; ICW2: master IRQ 0 -> vector 08h
        out PIC1_DATA, al
        mov al, 0x70            ; ICW2: slave IRQ 8 -> vector 70h
        out PIC2_DATA, al
        mov al, 0x04            ; ICW3 master: a slave on input 2 (bit mask)
        out PIC1_DATA, al
        mov al, 0x02            ; ICW3 slave: my cascade identity is 2
        out PIC2_DATA, al
        mov al, 0x01            ; ICW4: 8086 mode, normal EOI
        out PIC1_DATA, al
        out PIC2_DATA, al
        mov al, 0xF8            ; mask (OCW1): only IRQ 0 (timer), 1 (keyboard), 2 (cascade)
        out PIC1_DATA, al
        mov al, 0xFF            ; the slave's IRQs all masked until someone wants one
        out PIC2_DATA, al

; --- The timer: 8254 channel 0 drives IRQ 0. ------------------------------------------------
; Mode 3 (square wave) with divisor 0, which counts as 65536: 1193182 Hz / 65536 = 18.2 ticks
; per second, the PC's classic clock tick.
        mov al, 0x36            ; channel 0, low byte then high byte, mode 3, binary
        out PIT_COMMAND, al
        xor al, al
        out PIT_CHANNEL0, al    ; divisor low byte
        out PIT_CHANNEL0, al    ; divisor high byte

        call serial_init
        call timer_init_ticks   ; the tick count from the RTC's time of day

; --- The screen: mode 3 clears it; then the banner. -----------------------------------------
        mov ax, 0x0003
        int 0x10
        mov si, banner
        call print_string

        sti                     ; from here on the timer ticks and keys arrive
        int 0x19                ; boot (does not return)
.halt:
        cli
        hlt
        jmp .halt

; print_string: prints the zero-terminated string at CS:SI with INT 10h teletype (screen
; and COM1).
print_string:
        push ax
        push bx
        push si
        mov ah, 0x0E
        xor bx, bx              ; page 0
.char:
        mov al, [cs:si]
        test al, al
        jz .done
        int 0x10
        inc si
        jmp .char
.done:
        pop si
        pop bx
        pop ax
        ret

banner:
        db 'minivisor BIOS', 13, 10, 0

; The vectors POST fills in: a byte (the vector) and a word (the handler), to FFh.
vector_list:
        db 0x08
        dw int08_timer
        db 0x09
        dw int09_keyboard
        db 0x0A
        dw irq_master
        db 0x0B
        dw irq_master
        db 0x0C
        dw irq_master
        db 0x0D
        dw irq_master
        db 0x0E
        dw irq_master
        db 0x0F
        dw irq_master
        db 0x10
        dw int10_video
        db 0x11
        dw int11_equipment
        db 0x12
        dw int12_memory
        db 0x13
        dw int13_disk
        db 0x15
        dw int15_system
        db 0x16
        dw int16_keyboard
        db 0x18
        dw int18_no_boot
        db 0x19
        dw int19_boot
        db 0x1A
        dw int1a_time
        db 0x70
        dw irq_slave
        db 0x71
        dw irq_slave
        db 0x72
        dw irq_slave
        db 0x73
        dw irq_slave
        db 0x74
        dw irq_slave
        db 0x75
        dw irq_slave
        db 0x76
        dw irq_slave
        db 0x77
        dw irq_slave
        db 0xFF

; The handler of every vector nobody serves (and of unhandled exceptions in real mode): return.
default_handler:
        iret
