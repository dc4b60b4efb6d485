; boot.asm - INT 19h (boot), INT 18h (boot failure), and entering a Multiboot kernel.
;
; Booting a PC is loading 512 bytes: sector 0 of the boot drive goes to 0000:7C00 and the
; CPU jumps there, with DL = the drive it came from (so the boot sector can read the rest).
; A hard disk's boot sector must end with the signature 55h AAh; this BIOS asks it of
; floppies too, so that an empty or unformatted image is reported instead of run.

int19_boot:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00          ; a fresh stack, below where the boot sector goes
        sti
        mov ax, FW_BOOT
        call fw_select
        call fw_read8           ; which drive to boot: the machine's choice
        cmp al, 0xFE
        je multiboot_boot
        mov si, reason_no_drive
        cmp al, 0xFF
        je no_boot
        mov dl, al              ; DL = the drive (INT 13h leaves it alone)
        mov ax, 0x0201          ; read one sector
        mov cx, 0x0001          ; cylinder 0, sector 1
        xor dh, dh              ; head 0
        mov bx, 0x7C00          ; to ES:BX = 0000:7C00
        int 0x13
        jnc .read
        mov si, reason_not_present
        cmp ah, 0x01            ; no such drive
        je no_boot
        mov si, reason_read_error
        jmp no_boot
.read:
        mov si, reason_no_signature
        cmp word [0x7DFE], 0xAA55
        jne no_boot
        xor ax, ax              ; DL = the boot drive; the other registers zero
        xor bx, bx
        xor cx, cx
        xor dh, dh
        xor si, si
        xor di, di
        xor bp, bp
        jmp 0x0000:0x7C00       ; CS = 0, IP = 7C00h, interrupts on: the boot sector runs

; no_boot: says why nothing boots (SI = the reason, DL = the drive when there is one), on the
; screen and COM1, tells the machine (port FW_BOOT_FAILURE: the reason's number), and stops.
no_boot:
        mov di, si              ; the reason, for the machine at the end
        push si
        mov si, msg_no_boot
        call print_string
        pop si
        call print_string
        cmp si, reason_no_drive
        je .close
        cmp si, reason_int18
        je .close
        mov si, msg_drive
        call print_string
        mov al, dl
        call print_hex8
        mov al, 'h'
        call print_char
.close:
        mov si, msg_close
        call print_string
        ; The reason's number: its place in the list of reasons below (1 to 5).
        mov al, 1
        mov bx, reasons
.find:
        cmp di, [cs:bx]
        je .tell
        inc al
        add bx, 2
        cmp bx, reasons_end
        jb .find
.tell:
        mov dx, FW_BOOT_FAILURE
        out dx, al
.halt:
        cli
        hlt
        jmp .halt

; INT 18h: what a boot sector calls when it cannot boot (on the IBM PC: ROM BASIC).
int18_no_boot:
        xor ax, ax
        mov ds, ax
        mov si, reason_int18
        jmp no_boot

; The reasons, in the order of their numbers at port FW_BOOT_FAILURE (docs/firmware-interface.md).
reasons:                dw reason_no_drive, reason_not_present, reason_read_error, reason_no_signature, reason_int18
reasons_end:

msg_no_boot:            db 'minivisor BIOS: no bootable disk (', 0
reason_no_drive:        db 'the machine has no boot drive', 0
reason_not_present:     db 'the boot drive is not there', 0
reason_read_error:      db 'cannot read the boot sector', 0
reason_no_signature:    db 'no 55AA signature in the boot sector', 0
reason_int18:           db 'the boot sector gave up: INT 18h', 0
msg_drive:              db ', drive ', 0
msg_close:              db ')', 13, 10, 0

; print_char: prints AL (teletype: screen and COM1).
print_char:
        push ax
        push bx
        mov ah, 0x0E
        xor bx, bx
        int 0x10
        pop bx
        pop ax
        ret

; print_hex8: prints AL as two hexadecimal digits.
print_hex8:
        push ax
        shr al, 4
        call .digit
        pop ax
        push ax
        and al, 0x0F
        call .digit
        pop ax
        ret
.digit:
        add al, '0'
        cmp al, '9'
        jbe .print
        add al, 'A' - '9' - 1
.print:
        jmp print_char

; --- Multiboot (boot item FEh): the machine has loaded a kernel and written its Multiboot
; information structure; fw_cfg item 0x0015 says where to enter it and where the structure
; is. The Multiboot specification's entry state: 32-bit protected mode, flat 4 GiB code and
; data segments, A20 on, paging and interrupts off, EAX = 2BADB002h, EBX = the structure.
multiboot_boot:
        mov ax, FW_MULTIBOOT
        call fw_select
        call fw_read32
        mov esi, eax            ; ESI = the entry point
        call fw_read32
        mov ebx, eax            ; EBX = the information structure
        test esi, esi
        jnz .enter
        mov si, reason_no_kernel
        jmp no_boot
.enter:
        cli
        in al, PORT_A20
        or al, 0x02             ; A20 on (bit 0 stays 0: it would reset)
        and al, 0xFE
        out PORT_A20, al
        lgdt [cs:multiboot_gdtr]
        mov eax, cr0
        or al, 1                ; PE: protected mode
        mov cr0, eax
        ; A far jump loads CS with selector 08h (the code segment, base 0): from here on the
        ; ROM's code is at its physical address, F0000h + its offset.
        jmp dword 0x08:(0xF0000 + .flat)
        bits 32
.flat:
        mov ax, 0x10            ; the data segment, base 0, limit 4 GiB
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x7C00
        mov eax, 0x2BADB002     ; "loaded by a Multiboot boot loader"
        jmp esi
        bits 16

reason_no_kernel:       db 'boot item FEh, but no Multiboot kernel', 0
