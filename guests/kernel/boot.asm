; boot.asm - the boot sector: sector 0 of the floppy, loaded by the BIOS to 0000:7C00 and
; entered in 16-bit real mode with the boot drive in DL. In 512 bytes it does what only real
; mode can do, then leaves it for good:
;   1. read the kernel (sectors 1..KERNEL_SECTORS) to KERNEL_LOAD with INT 13h AH=42h, the
;      extended read that addresses sectors by number (LBA);
;   2. ask the BIOS for the memory map, INT 15h EAX=E820h, entry by entry, into BOOT_INFO:
;      once in protected mode there is no BIOS to ask;
;   3. open the A20 gate (INT 15h AX=2401h, or port 0x92 if the BIOS cannot), so that
;      addresses with bit 20 set are not folded back onto the first MiB;
;   4. load a minimal GDT (flat code and data), set CR0.PE and jump to the 32-bit kernel.

        bits 16
boot_start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, BOOT_STACK_TOP
        sti
        mov [boot_drive], dl

; ---- 1. Load the kernel -----------------------------------------------------------------------
; One sector per call: floppy controllers (QEMU's among them) will not read across a track,
; and one sector never crosses anything. The packet's buffer (segment:offset) moves on by
; 512 bytes = 0x20 paragraphs each time.
;
; minivisor's BIOS has the extensions for every drive. Many BIOSes (QEMU's SeaBIOS among them)
; have them for hard disks only; on a floppy without them we fall back to AH=02h, which wants
; cylinder/head/sector: from the LBA and the geometry that AH=08h reports.
        mov ah, 0x41                    ; are the extensions there?
        mov bx, 0x55AA
        mov dl, [boot_drive]
        int 0x13
        jc .chs
        cmp bx, 0xAA55
        je .read
.chs:
        mov byte [use_chs], 1
        mov ah, 0x08                    ; drive parameters: CL[5:0] sectors per track,
        mov dl, [boot_drive]            ; DH the last head
        int 0x13
        jc .disk_error
        and cx, 0x3F
        mov [sectors_per_track], cx
        movzx dx, dh
        inc dx
        mov [heads], dx
.read:
        cmp byte [use_chs], 0
        jne .read_chs
        mov ah, 0x42                    ; the extended read, described by the packet at DS:SI
        mov dl, [boot_drive]
        mov si, dap
        int 0x13
        jc .disk_error
        jmp .next_sector
.read_chs:
        mov ax, [dap.lba]               ; LBA = (cylinder * heads + head) * sectors + sector - 1
        xor dx, dx
        div word [sectors_per_track]
        mov cl, dl
        inc cl                          ; CL = sector (counted from 1)
        xor dx, dx
        div word [heads]
        mov dh, dl                      ; DH = head
        mov ch, al                      ; CH = cylinder (a floppy has fewer than 256)
        mov dl, [boot_drive]
        les bx, [dap.offset]            ; ES:BX = the buffer
        mov ax, 0x0201                  ; read one sector
        int 0x13
        jc .disk_error
.next_sector:
        add word [dap.segment], 512 / 16
        inc dword [dap.lba]
        cmp dword [dap.lba], KERNEL_SECTORS
        jbe .read
        xor ax, ax
        mov es, ax

; ---- 2. The E820 memory map --------------------------------------------------------------------
; EBX is the BIOS's continuation value: 0 for the first call, 0 again after the last entry.
; Each call writes one entry at ES:DI and returns CF=0, EAX='SMAP' and ECX=its size (20 or 24).
        mov dword [BOOT_INFO], 0        ; the entry count
        mov di, E820_ENTRIES
        xor ebx, ebx
.e820:
        mov dword [di + 20], 1          ; ACPI attributes "valid", if the BIOS writes only 20 bytes
        mov eax, 0xE820
        mov edx, 0x534D4150             ; 'SMAP'
        mov ecx, E820_ENTRY_SIZE
        int 0x15
        jc .e820_done                   ; CF after the first entry also means "no more"
        cmp eax, 0x534D4150
        jne .e820_done
        add di, E820_ENTRY_SIZE
        inc dword [BOOT_INFO]
        cmp dword [BOOT_INFO], E820_MAX
        jae .e820_done
        test ebx, ebx
        jnz .e820
.e820_done:

; ---- 3. A20 ------------------------------------------------------------------------------------
        mov ax, 0x2401
        int 0x15
        jnc .a20_on
        in al, 0x92                     ; "fast A20": bit 1 of the system control port
        or al, 2
        and al, 0xFE                    ; (bit 0 would reset the machine)
        out 0x92, al
.a20_on:

; ---- 4. Protected mode -------------------------------------------------------------------------
        cli                             ; no interrupts until the kernel has an IDT
        lgdt [boot_gdt_ptr]
        mov eax, cr0
        or eax, 1                       ; CR0.PE
        mov cr0, eax
        jmp dword KERNEL_CS:kernel_entry ; the far jump loads CS from the new GDT

.disk_error:
        mov si, msg_disk
.fail:
        mov ah, 0x0E
        lodsb
        test al, al
        jz .halt
        xor bx, bx
        int 0x10
        jmp .fail
.halt:
        cli
        hlt
        jmp .halt

; The disk address packet for AH=42h.
dap:            db 16, 0                ; its size, reserved
                dw 1                    ; sectors to read
.offset:        dw 0                    ; buffer offset
.segment:       dw KERNEL_LOAD >> 4     ;        segment
.lba:           dq 1                    ; first sector (the kernel starts at sector 1)

; A GDT just good enough to enter protected mode; the kernel loads its own (descriptors.asm).
; Selectors 08h and 10h are the same there, so nothing needs reloading in between.
boot_gdt:       dq 0
                dq 0x00CF9A000000FFFF   ; 08h: code, base 0, limit 4 GiB, 32-bit, ring 0
                dq 0x00CF92000000FFFF   ; 10h: data, base 0, limit 4 GiB, ring 0
boot_gdt_ptr:   dw 3 * 8 - 1
                dd boot_gdt

boot_drive:     db 0
use_chs:        db 0
sectors_per_track: dw 0
heads:          dw 0
msg_disk:       db 'boot: disk read error', 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
