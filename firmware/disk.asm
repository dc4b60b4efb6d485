; disk.asm - INT 13h, disk services, for the floppies and hard disks the machine describes.
;
; A real BIOS programs a floppy controller and an IDE controller: seek, wait for an
; interrupt, set up DMA, retry. minivisor's disk is paravirtual: the BIOS fills a 24-byte
; request block (drive, command, first sector, count, buffer address), writes its physical
; address to port 518h, and the transfer is done when the OUT instruction returns, with a
; status byte in the block. Everything else here is translating between INT 13h's
; conventions and that block.
;
; Sectors are numbered two ways:
;   CHS (the original interface, AH=02h-04h): cylinder, head and sector (from 1) of a drive
;       with a geometry; CH holds the cylinder's low 8 bits, CL bits 6-7 its high 2 bits and
;       bits 0-5 the sector, DH the head. LBA = (cylinder * heads + head) * sectors + sector - 1.
;   LBA (the extensions, AH=41h-48h): just the sector's number from 0, in a "disk address
;       packet" the caller points DS:SI at.
;
; Returns: CF clear and AH = 0 on success, CF set and AH = an error code on failure
; (01h bad command or no such drive, 04h sector not found, ...). AH=01h returns the status of
; the last operation, kept at 0040:0041 (floppies) and 0040:0074 (hard disks).

int13_disk:
        SERVICE_ENTER
        cld
        mov si, EBDA_SEG
        mov ds, si              ; DS: the EBDA, with the drive table and the request block
        call find_drive         ; SI = the drive's entry
        jc .no_drive
        cmp ah, 0x00
        je disk_ok              ; reset: nothing to reset
        cmp ah, 0x01
        je disk_last_status
        cmp ah, 0x02
        je disk_chs             ; read
        cmp ah, 0x03
        je disk_chs             ; write
        cmp ah, 0x04
        je disk_chs             ; verify
        cmp ah, 0x08
        je disk_parameters
        cmp ah, 0x0C
        je disk_ok              ; seek
        cmp ah, 0x0D
        je disk_ok              ; alternate reset
        cmp ah, 0x10
        je disk_ok              ; drive ready?
        cmp ah, 0x11
        je disk_ok              ; recalibrate
        cmp ah, 0x15
        je disk_type
        cmp ah, 0x41
        je disk_extensions_check
        cmp ah, 0x42
        je disk_extended        ; extended read
        cmp ah, 0x43
        je disk_extended        ; extended write
        cmp ah, 0x44
        je disk_extended        ; extended verify
        cmp ah, 0x47
        je disk_ok              ; extended seek
        cmp ah, 0x48
        je disk_extended_parameters
        mov ah, 0x01            ; a function we do not have
        jmp disk_done
.no_drive:
        mov ah, 0x01
        jmp disk_done

disk_ok:
        xor ah, ah
        ; fall through

; disk_done: ends the call with status AH: the caller gets it in AH, CF set if it is not
; zero, and AH=01h will return it later.
disk_done:
        mov [bp+R_AH], ah
        RETURN_NO_CARRY
        test ah, ah
        jz .saved
        RETURN_CARRY
.saved:
        call save_disk_status
        SERVICE_LEAVE

; save_disk_status: keeps status AH for the caller's drive (its DL) in the BDA.
save_disk_status:
        push ds
        push bx
        mov bx, BDA_SEG
        mov ds, bx
        test byte [bp+R_DL], 0x80
        jnz .hard_disk
        mov [BDA_FLOPPY_STATUS], ah
        jmp .done
.hard_disk:
        mov [BDA_DISK_STATUS], ah
.done:
        pop bx
        pop ds
        ret

; --- AH=01h: status of the last operation, in AH (CF set if it was an error). ---------------
disk_last_status:
        push ds
        mov ax, BDA_SEG
        mov ds, ax
        mov ah, [BDA_FLOPPY_STATUS]
        test dl, 0x80
        jz .got
        mov ah, [BDA_DISK_STATUS]
.got:
        pop ds
        mov [bp+R_AH], ah
        RETURN_NO_CARRY
        test ah, ah
        jz .leave
        RETURN_CARRY
.leave:
        SERVICE_LEAVE

; find_drive: SI = the EBDA entry of drive DL, CF set when the machine has no such drive.
find_drive:
        push cx
        movzx cx, byte [EBDA_DRIVE_COUNT]
        mov si, EBDA_DRIVES
        jcxz .none
.check:
        cmp [si+DRIVE_NUMBER], dl
        je .found
        add si, DRIVE_ENTRY_SIZE
        loop .check
.none:
        pop cx
        stc
        ret
.found:
        pop cx
        clc
        ret

; disk_request: asks the virtual disk to move DI sectors from sector EDX:EAX (LBA) of the
; drive at [SI], to or from physical address EBX; CL = command (1 read, 2 write, 3 verify).
; Returns AH = the status the disk wrote (0 done). DS = EBDA.
disk_request:
        push eax
        push dx
        mov [EBDA_DISK_REQUEST + REQ_LBA], eax
        mov [EBDA_DISK_REQUEST + REQ_LBA + 4], edx
        mov al, [si+DRIVE_NUMBER]
        mov [EBDA_DISK_REQUEST + REQ_DRIVE], al
        mov [EBDA_DISK_REQUEST + REQ_COMMAND], cl
        mov byte [EBDA_DISK_REQUEST + REQ_STATUS], 0xFF ; if nothing answers: "sense failed"
        mov byte [EBDA_DISK_REQUEST + 3], 0
        mov [EBDA_DISK_REQUEST + REQ_COUNT], di
        mov word [EBDA_DISK_REQUEST + REQ_COUNT + 2], 0
        mov [EBDA_DISK_REQUEST + REQ_BUFFER], ebx
        mov eax, EBDA_PHYS + EBDA_DISK_REQUEST
        mov dx, VDISK_PORT
        out dx, eax             ; the transfer happens here
        pop dx
        pop eax
        mov ah, [EBDA_DISK_REQUEST + REQ_STATUS]
        ret

; --- AH=02h read, 03h write, 04h verify: AL sectors at CHS CH/CL/DH, buffer ES:BX. ----------
; Returns AL = sectors transferred.
disk_chs:
        mov byte [bp+R_AL], 0   ; nothing transferred, until it is
        movzx di, al            ; DI = count
        test di, di
        jz .bad
        movzx ax, cl
        and al, 0xC0
        shl ax, 2
        mov al, ch              ; AX = the cylinder, 10 bits
        cmp ax, [si+DRIVE_CYLINDERS]
        jae .not_found
        cmp dh, [si+DRIVE_HEADS]
        jae .not_found
        mov bl, cl
        and bl, 0x3F            ; BL = the sector, from 1
        jz .not_found
        cmp bl, [si+DRIVE_SECTORS]
        ja .not_found
        movzx eax, ax
        movzx ecx, byte [si+DRIVE_HEADS]
        imul eax, ecx           ; cylinder * heads
        movzx ecx, dh
        add eax, ecx            ; + head
        movzx ecx, byte [si+DRIVE_SECTORS]
        imul eax, ecx           ; * sectors per track
        movzx ecx, bl
        dec ecx
        add eax, ecx            ; + sector - 1 = the LBA
        xor edx, edx
        movzx ebx, word [bp+R_ES]
        shl ebx, 4
        movzx ecx, word [bp+R_BX]
        add ebx, ecx            ; EBX = ES * 16 + BX, the buffer's physical address
        mov cl, [bp+R_AH]
        dec cl                  ; 02h/03h/04h -> commands 1/2/3
        call disk_request
        test ah, ah
        jnz .done
        mov cx, di
        mov [bp+R_AL], cl
.done:
        jmp disk_done
.bad:
        mov ah, 0x01
        jmp disk_done
.not_found:
        mov ah, 0x04
        jmp disk_done

; --- AH=08h: drive parameters. -------------------------------------------------------------
; CH = last cylinder (low 8 bits), CL = sectors per track | last cylinder's high 2 bits << 6,
; DH = last head, DL = number of drives of this kind; floppies also BL = CMOS drive type and
; ES:DI = the diskette parameter table.
disk_parameters:
        mov ax, [si+DRIVE_CYLINDERS]
        dec ax                  ; the last cylinder
        mov [bp+R_CH], al
        shl ah, 6
        or ah, [si+DRIVE_SECTORS]
        mov [bp+R_CL], ah
        mov al, [si+DRIVE_HEADS]
        dec al
        mov [bp+R_DH], al
        mov bl, [si+DRIVE_KIND]
        xor al, al              ; count the drives of the same kind
        movzx cx, byte [EBDA_DRIVE_COUNT]
        mov di, EBDA_DRIVES
.count:
        cmp [di+DRIVE_KIND], bl
        jne .other
        inc al
.other:
        add di, DRIVE_ENTRY_SIZE
        loop .count
        mov [bp+R_DL], al
        cmp bl, KIND_FLOPPY
        jne .done
        mov al, [si+DRIVE_CMOS_TYPE]
        mov [bp+R_BL], al
        mov byte [bp+R_BH], 0
        mov byte [bp+R_AL], 0
        mov word [bp+R_ES], 0xF000
        mov word [bp+R_DI], diskette_parameters
.done:
        jmp disk_ok

; --- AH=15h: disk type: AH = 01h floppy without change detection, 03h hard disk with CX:DX
; = its sectors. (AH here is a type, not an error.)
disk_type:
        cmp byte [si+DRIVE_KIND], KIND_FLOPPY
        mov ah, 0x01
        je .type
        mov eax, [si+DRIVE_TOTAL]
        mov [bp+R_DX], ax
        shr eax, 16
        mov [bp+R_CX], ax
        mov ah, 0x03
.type:
        mov [bp+R_AH], ah
        RETURN_NO_CARRY
        xor ah, ah
        call save_disk_status
        SERVICE_LEAVE

; --- AH=41h, BX=55AAh: are the extensions here? BX = AA55h, AH = version (30h: EDD 3.0),
; CX bit 0: the packet functions 42h-44h, 47h, 48h.
disk_extensions_check:
        cmp bx, 0x55AA
        jne .no
        mov word [bp+R_BX], 0xAA55
        mov word [bp+R_CX], 0x0001
        mov byte [bp+R_AH], 0x30
        RETURN_NO_CARRY
        xor ah, ah
        call save_disk_status
        SERVICE_LEAVE
.no:
        mov ah, 0x01
        jmp disk_done

; --- AH=42h read, 43h write, 44h verify, with a disk address packet at DS:SI: ---------------
;   +0 byte packet size (10h, or 18h with a 64-bit buffer address)   +1 byte 0
;   +2 word sectors (on return: sectors transferred)   +4 dword buffer, offset then segment
;   +8 qword the first sector (LBA)   +10h qword flat buffer address, if +4 is FFFF:FFFF
disk_extended:
        mov es, [bp+R_DS]       ; ES is restored on return: free to use here
        mov bx, [bp+R_SI]       ; ES:BX = the packet
        cmp byte [es:bx], 0x10
        jb .bad
        movzx ecx, word [es:bx+6]
        shl ecx, 4
        movzx eax, word [es:bx+4]
        add ecx, eax            ; ECX = segment * 16 + offset
        cmp dword [es:bx+4], -1      ; FFFF:FFFF
        jne .have_buffer
        cmp byte [es:bx], 0x18
        jb .bad
        mov ecx, [es:bx+0x10]   ; a flat address (below 4 GiB here)
.have_buffer:
        mov di, [es:bx+2]       ; DI = count
        mov eax, [es:bx+8]
        mov edx, [es:bx+12]     ; EDX:EAX = the LBA
        push bx
        mov ebx, ecx
        mov cl, [bp+R_AH]
        sub cl, 0x41            ; 42h/43h/44h -> commands 1/2/3
        call disk_request
        pop bx
        test ah, ah
        jz .done
        mov word [es:bx+2], 0   ; nothing transferred
.done:
        jmp disk_done
.bad:
        mov ah, 0x01
        jmp disk_done

; --- AH=48h: drive parameters into the result buffer at DS:SI (its first word: its size). ---
;   +0 word size  +2 word flags  +4 dword cylinders  +8 dword heads  +0Ch dword sectors/track
;   +10h qword total sectors  +18h word bytes per sector  +1Ah dword EDD table (FFFF:FFFF: none)
disk_extended_parameters:
        mov es, [bp+R_DS]
        mov bx, [bp+R_SI]
        mov cx, [es:bx]
        cmp cx, 0x1A
        jb .bad
        mov ax, 0x0002          ; flags: the CHS geometry is valid
        cmp byte [si+DRIVE_KIND], KIND_FLOPPY
        jne .fixed
        or ax, 0x0004           ; removable
.fixed:
        mov [es:bx+2], ax
        movzx eax, word [si+DRIVE_CYLINDERS]
        mov [es:bx+4], eax
        movzx eax, byte [si+DRIVE_HEADS]
        mov [es:bx+8], eax
        movzx eax, byte [si+DRIVE_SECTORS]
        mov [es:bx+0x0C], eax
        mov eax, [si+DRIVE_TOTAL]
        mov [es:bx+0x10], eax
        mov eax, [si+DRIVE_TOTAL+4]
        mov [es:bx+0x14], eax
        mov word [es:bx+0x18], 512
        mov word [es:bx], 0x1A
        cmp cx, 0x1E
        jb .done
        mov dword [es:bx+0x1A], 0xFFFFFFFF
        mov word [es:bx], 0x1E
.done:
        jmp disk_ok
.bad:
        mov ah, 0x01
        jmp disk_done
