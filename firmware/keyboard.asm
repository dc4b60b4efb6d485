; keyboard.asm - INT 09h (the keyboard interrupt, IRQ 1) and INT 16h (keyboard services).
;
; The keyboard sends scan codes, not characters: one byte when a key goes down ("make"), the
; same byte + 80h when it comes up ("break"), in scan code set 1 as the 8042 controller
; translates them. On IRQ 1 the BIOS reads the code from port 60h, follows the shift keys,
; turns a make code into a character with the US layout, and puts the pair (scan code << 8 |
; ASCII) into a 16-word ring buffer in the BDA. INT 16h takes keys out of that buffer.
;
; The ring buffer: HEAD (0x41A) is the next key to read, TAIL (0x41C) the next free slot,
; both offsets from 0x400, between START (0x480) and END (0x482). HEAD = TAIL means empty;
; one slot always stays free, so that a full buffer does not look empty too.

KBD_FLAG_RSHIFT equ 0x01        ; in the shift flags at 0x417
KBD_FLAG_LSHIFT equ 0x02
KBD_FLAG_CTRL   equ 0x04
KBD_FLAG_ALT    equ 0x08
KBD_FLAG_CAPS   equ 0x40
KBD_E0_PREFIX   equ 0x02        ; in 0x496: the last byte was E0h (an extended key follows)

int09_keyboard:
        push ax
        push bx
        push si
        push ds
        mov ax, BDA_SEG
        mov ds, ax
        in al, KBD_DATA         ; the scan code
        cmp al, 0xE0
        je .prefix
        mov ah, [BDA_KBD_FLAGS3]
        and byte [BDA_KBD_FLAGS3], ~KBD_E0_PREFIX & 0xFF
        test ah, KBD_E0_PREFIX
        jz .shift_keys
        ; After E0h: right Ctrl/Alt are Ctrl/Alt; E0 2Ah and E0 36h are "fake shifts" some
        ; keyboards send around the grey keys: ignore them.
        mov ah, al
        and ah, 0x7F
        cmp ah, 0x2A
        je .eoi
        cmp ah, 0x36
        je .eoi
.shift_keys:
        mov bl, KBD_FLAG_LSHIFT
        cmp al, 0x2A
        je .press
        cmp al, 0xAA
        je .release
        mov bl, KBD_FLAG_RSHIFT
        cmp al, 0x36
        je .press
        cmp al, 0xB6
        je .release
        mov bl, KBD_FLAG_CTRL
        cmp al, 0x1D
        je .press
        cmp al, 0x9D
        je .release
        mov bl, KBD_FLAG_ALT
        cmp al, 0x38
        je .press
        cmp al, 0xB8
        je .release
        cmp al, 0x3A            ; Caps Lock toggles on each press
        jne .not_caps
        xor byte [BDA_KBD_FLAGS], KBD_FLAG_CAPS
        jmp .eoi
.not_caps:
        test al, 0x80
        jnz .eoi                ; the release of any other key: nothing to do
        ; A make code: its character.
        mov ah, al              ; AH = scan code
        xor al, al              ; keys beyond the table (F1-F12, arrows, ...) have ASCII 0
        cmp ah, KEYMAP_SIZE
        jae .store
        movzx si, ah
        mov bl, [BDA_KBD_FLAGS]
        mov al, [cs:keymap_normal + si]
        test bl, KBD_FLAG_LSHIFT | KBD_FLAG_RSHIFT
        jz .shifted
        mov al, [cs:keymap_shift + si]
.shifted:
        test bl, KBD_FLAG_CAPS  ; Caps Lock inverts the case of letters only
        jz .ctrl
        mov bh, al
        or bh, 0x20
        cmp bh, 'a'
        jb .ctrl
        cmp bh, 'z'
        ja .ctrl
        xor al, 0x20
.ctrl:
        test bl, KBD_FLAG_CTRL  ; Ctrl+letter: 01h-1Ah
        jz .alt
        mov bh, al
        or bh, 0x20
        cmp bh, 'a'
        jb .alt
        cmp bh, 'z'
        ja .alt
        and al, 0x1F
.alt:
        test bl, KBD_FLAG_ALT   ; Alt+key: ASCII 0, the scan code says which
        jz .store
        xor al, al
.store:
        call kbd_buffer_put
        jmp .eoi
.prefix:
        or byte [BDA_KBD_FLAGS3], KBD_E0_PREFIX
        jmp .eoi
.press:
        or [BDA_KBD_FLAGS], bl
        jmp .eoi
.release:
        not bl
        and [BDA_KBD_FLAGS], bl
.eoi:
        mov al, PIC_EOI
        out PIC1_COMMAND, al
        pop ds
        pop si
        pop bx
        pop ax
        iret

; kbd_buffer_put: adds key AX to the ring buffer; CF set (and the key dropped) if it is full.
; DS = BDA.
kbd_buffer_put:
        push bx
        push si
        mov bx, [BDA_KBD_TAIL]
        lea si, [bx+2]
        cmp si, [BDA_KBD_END]
        jb .no_wrap
        mov si, [BDA_KBD_START]
.no_wrap:
        cmp si, [BDA_KBD_HEAD]
        je .full
        mov [bx], ax            ; offsets are from 0x400, and DS = 40h
        mov [BDA_KBD_TAIL], si
        clc
        jmp .done
.full:
        stc
.done:
        pop si
        pop bx
        ret

; --- INT 16h: keyboard services. -----------------------------------------------------------
int16_keyboard:
        SERVICE_ENTER
        mov si, BDA_SEG
        mov ds, si
        cmp ah, 0x00
        je .read
        cmp ah, 0x10
        je .read
        cmp ah, 0x01
        je .check
        cmp ah, 0x11
        je .check
        cmp ah, 0x02
        je .shift_flags
        cmp ah, 0x12
        je .shift_flags
        cmp ah, 0x05
        je .push_key
        SERVICE_LEAVE

; AH=00h/10h: wait for a key and take it: AH = scan code, AL = ASCII.
.read:
        cli                     ; look at the buffer with interrupts off...
        mov bx, [BDA_KBD_HEAD]
        cmp bx, [BDA_KBD_TAIL]
        jne .take
        sti                     ; ...and if it is empty, sleep until an interrupt. STI takes
        hlt                     ; effect after the next instruction, so no IRQ can slip in
        jmp .read               ; between the test and the HLT and leave us asleep.
.take:
        mov ax, [bx]
        add bx, 2
        cmp bx, [BDA_KBD_END]
        jb .no_wrap
        mov bx, [BDA_KBD_START]
.no_wrap:
        mov [BDA_KBD_HEAD], bx
        mov [bp+R_AX], ax
        SERVICE_LEAVE

; AH=01h/11h: is there a key? ZF clear and AX = the key (left in the buffer), or ZF set.
.check:
        cli
        mov bx, [BDA_KBD_HEAD]
        cmp bx, [BDA_KBD_TAIL]
        je .none
        mov ax, [bx]
        mov [bp+R_AX], ax
        and byte [bp+R_FLAGS], ~FLAG_ZF & 0xFF
        SERVICE_LEAVE
.none:
        or byte [bp+R_FLAGS], FLAG_ZF
        SERVICE_LEAVE

; AH=02h: AL = the shift flags; AH=12h: AH = the second flags byte too.
.shift_flags:
        mov al, [BDA_KBD_FLAGS]
        mov [bp+R_AL], al
        cmp ah, 0x12
        jne .flags_done
        mov al, [BDA_KBD_FLAGS2]
        mov [bp+R_AH], al
.flags_done:
        SERVICE_LEAVE

; AH=05h: put key CX into the buffer as if typed: AL = 0, or 1 if the buffer is full.
.push_key:
        cli
        mov ax, cx
        call kbd_buffer_put
        setc al
        mov [bp+R_AL], al
        SERVICE_LEAVE

; Scan code set 1 to ASCII, US layout, codes 00h-39h: without and with Shift.
keymap_normal:
        db 0, 27, '1234567890-=', 8, 9          ; 00h-0Fh
        db 'qwertyuiop[]', 13, 0, 'as'          ; 10h-1Fh
        db 'dfghjkl;', 0x27, '`', 0, 0x5C, 'zxcv'  ; 20h-2Fh
        db 'bnm,./', 0, '*', 0, ' '             ; 30h-39h
KEYMAP_SIZE equ $ - keymap_normal
keymap_shift:
        db 0, 27, '!@#$%^&*()_+', 8, 9          ; 00h-0Fh
        db 'QWERTYUIOP{}', 13, 0, 'AS'          ; 10h-1Fh
        db 'DFGHJKL:', 0x22, '~', 0, '|', 'ZXCV'   ; 20h-2Fh
        db 'BNM<>?', 0, '*', 0, ' '             ; 30h-39h
