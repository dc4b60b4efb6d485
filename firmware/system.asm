; system.asm - INT 11h (equipment), INT 12h (conventional memory), INT 15h (system services:
; the memory map, the A20 gate, the configuration table).
;
; How much memory is there? The BIOS does not probe: the machine reports its memory map
; through fw_cfg (item 0x0010 for E820, 0x0013 for the sizes), and the BIOS hands it on in
; each of the forms PC software has asked for over the years:
;   INT 12h        KiB of conventional memory (below 640 KiB, less the EBDA)     1981
;   INT 15h 88h    KiB above 1 MiB (at most 64 MiB fits in AX)                   1984
;   INT 15h E801h  KiB between 1 and 16 MiB, and 64 KiB blocks above 16 MiB     ~1994
;   INT 15h E820h  the whole map, range by range, with each range's type        ~1996

; --- INT 11h: AX = the equipment word. -----------------------------------------------------
int11_equipment:
        push ds
        mov ax, BDA_SEG
        mov ds, ax
        mov ax, [BDA_EQUIPMENT]
        pop ds
        iret

; --- INT 12h: AX = KiB of conventional memory (639: the EBDA takes the last KiB). ---------
int12_memory:
        push ds
        mov ax, BDA_SEG
        mov ds, ax
        mov ax, [BDA_BASE_KIB]
        pop ds
        iret

int15_system:
        SERVICE_ENTER
        cmp ax, 0xE820
        je memory_map_e820
        cmp ax, 0xE801
        je memory_size_e801
        cmp ah, 0x88
        je memory_size_88
        cmp ah, 0x24
        je a20_gate
        cmp ah, 0xC0
        je configuration_table
system_unsupported:
        mov byte [bp+R_AH], 0x86        ; "function not supported"
        RETURN_CARRY
        SERVICE_LEAVE
system_ok:
        mov byte [bp+R_AH], 0
        RETURN_NO_CARRY
        SERVICE_LEAVE

; --- AX=E820h: one entry of the memory map. ------------------------------------------------
; In: EDX = 'SMAP' (534D4150h), EBX = which entry (0 for the first), ECX = the buffer's size
; (at least 20), ES:DI = the buffer. Out: the entry at ES:DI (qword base, qword length, dword
; type: 1 usable RAM, 2 reserved; with ECX >= 24, a dword of extended attributes, 1 = valid),
; EAX = 'SMAP', ECX = bytes written, EBX = the next entry's number, 0 after the last.
; The caller loops until EBX comes back 0.
memory_map_e820:
        cmp edx, 0x534D4150
        jne system_unsupported
        cmp ecx, 20
        jb system_unsupported
        mov ax, FW_E820
        call fw_select
        call fw_read32
        mov esi, eax            ; ESI = how many entries
        cmp ebx, esi
        jae system_unsupported  ; past the end
        imul cx, bx, 20
        call fw_skip            ; to entry EBX
        mov cx, 20
        call fw_read_block      ; 20 bytes to ES:DI
        mov ecx, 20
        cmp dword [bp+R_ECX], 24
        jb .written
        mov dword [es:di], 1    ; extended attributes: bit 0, "this entry is valid"
        mov ecx, 24
.written:
        mov [bp+R_ECX], ecx
        mov dword [bp+R_EAX], 0x534D4150
        inc ebx
        cmp ebx, esi
        jb .next
        xor ebx, ebx            ; that was the last
.next:
        mov [bp+R_EBX], ebx
        RETURN_NO_CARRY
        SERVICE_LEAVE

; extended_kib: EAX = KiB of RAM contiguous from 1 MiB (fw_cfg item 0x0013, second dword).
extended_kib:
        mov ax, FW_MEMORY
        call fw_select
        call fw_read32
        call fw_read32
        ret

; --- AX=E801h: AX = CX = KiB between 1 MiB and 16 MiB, BX = DX = 64 KiB blocks above 16 MiB.
memory_size_e801:
        call extended_kib
        mov ecx, eax
        xor ebx, ebx
        cmp ecx, 15 * 1024
        jbe .below_16m
        mov ebx, ecx
        sub ebx, 15 * 1024
        shr ebx, 6              ; KiB -> 64 KiB blocks
        cmp ebx, 0xFFFF
        jbe .blocks_ok
        mov ebx, 0xFFFF
.blocks_ok:
        mov ecx, 15 * 1024
.below_16m:
        mov [bp+R_AX], cx
        mov [bp+R_CX], cx
        mov [bp+R_BX], bx
        mov [bp+R_DX], bx
        RETURN_NO_CARRY
        SERVICE_LEAVE

; --- AH=88h: AX = KiB above 1 MiB (at most FFFFh). ----------------------------------------
memory_size_88:
        call extended_kib
        cmp eax, 0xFFFF
        jbe .fits
        mov eax, 0xFFFF
.fits:
        mov [bp+R_AX], ax
        RETURN_NO_CARRY
        SERVICE_LEAVE

; --- AH=24h: the A20 gate. ------------------------------------------------------------------
; The 8086 had 20 address lines: FFFF:0010 wrapped around to 0000:0000, and some programs
; counted on it. The AT kept the wrap by gating address line 20 (first through the keyboard
; controller, later through bit 1 of port 92h). Protected-mode software turns the gate on.
;   AL=00h off, 01h on, 02h AL = its state, 03h BX = how it can be switched (bit 1: port 92h)
a20_gate:
        cmp al, 0x00
        je .disable
        cmp al, 0x01
        je .enable
        cmp al, 0x02
        je .status
        cmp al, 0x03
        je .support
        jmp system_unsupported
.disable:
        in al, PORT_A20
        and al, 0xFC            ; bit 1 off (and never bit 0: that resets the machine)
        out PORT_A20, al
        jmp system_ok
.enable:
        in al, PORT_A20
        or al, 0x02
        and al, 0xFE
        out PORT_A20, al
        jmp system_ok
.status:
        call a20_test
        mov [bp+R_AL], al
        jmp system_ok
.support:
        mov word [bp+R_BX], 0x0002
        jmp system_ok

; a20_test: AL = 1 if the A20 gate is on, 0 if addresses wrap at 1 MiB. With the gate off,
; FFFF:0510 is physical 100500h with bit 20 forced to zero: the same byte as 0000:0500. Write
; one, look at the other, and put both back.
a20_test:
        push ds
        push es
        push bx
        xor ax, ax
        mov ds, ax              ; DS:0500 = physical 000500h
        dec ax
        mov es, ax              ; ES:0510 = physical 100500h (or 000500h)
        mov bl, [0x500]
        mov bh, [es:0x510]
        mov byte [0x500], 0x00
        mov byte [es:0x510], 0xFF
        xor al, al
        cmp byte [0x500], 0xFF
        je .wrapped             ; writing above 1 MiB changed the byte below: the gate is off
        inc al
.wrapped:
        mov [es:0x510], bh
        mov [0x500], bl
        pop bx
        pop es
        pop ds
        ret

; --- AH=C0h: ES:BX = the system configuration table (in this ROM). -------------------------
configuration_table:
        mov word [bp+R_ES], 0xF000
        mov word [bp+R_BX], system_configuration
        jmp system_ok
