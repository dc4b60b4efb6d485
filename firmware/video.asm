; video.asm - INT 10h, video services, for the 80x25 colour text screen (mode 3).
;
; The text screen is memory: at B800:0000 each of the 80x25 cells is two bytes, the character
; (code page 437) and its attribute (low nibble foreground colour, high nibble background).
; The cursor is not in that memory: it is where the CRT controller (ports 3D4h/3D5h,
; registers 0Eh/0Fh) draws it, and the BIOS keeps its row and column in the BDA.
;
; Every character INT 10h prints as a teletype (AH=0Eh, and AH=13h) also goes out of COM1,
; so a headless minivisor shows the same text on its serial console.
;
; Only page 0 is drawn: pages 1-7 keep their own cursor in the BDA and nothing else.

int10_video:
        SERVICE_ENTER
        cld
        mov si, BDA_SEG
        mov ds, si              ; DS: the BIOS data area
        mov si, VGA_TEXT_SEG
        mov es, si              ; ES: the screen
        cmp ah, 0x1A
        je video_display_combination
        cmp ah, VIDEO_FUNCTIONS
        jae video_return        ; not a function we know: return, changing nothing
        movzx si, ah
        shl si, 1
        jmp [cs:video_functions + si]
video_return:
        SERVICE_LEAVE

video_functions:
        dw video_set_mode               ; 00h set video mode
        dw video_cursor_shape           ; 01h set cursor shape
        dw video_set_cursor             ; 02h set cursor position
        dw video_get_cursor             ; 03h get cursor position and shape
        dw video_return                 ; 04h light pen (none)
        dw video_set_page               ; 05h select the active page
        dw video_scroll_window          ; 06h scroll a window up
        dw video_scroll_window          ; 07h scroll a window down
        dw video_read_char              ; 08h read character and attribute at the cursor
        dw video_write_char_attr        ; 09h write character and attribute CX times
        dw video_write_char             ; 0Ah write character CX times
        dw video_return                 ; 0Bh palette (graphics modes)
        dw video_return                 ; 0Ch write pixel
        dw video_return                 ; 0Dh read pixel
        dw video_teletype               ; 0Eh teletype output
        dw video_get_mode               ; 0Fh get video mode
        dw video_return                 ; 10h palette registers
        dw video_return                 ; 11h character generator
        dw video_alternate_select       ; 12h alternate select (EGA/VGA information)
        dw video_write_string           ; 13h write string
VIDEO_FUNCTIONS equ ($ - video_functions) / 2

; --- AH=00h: set video mode AL (bit 7: keep the screen's contents). --------------------------
; There is one mode, 3 (80x25, 16 colours): whatever is asked for, the screen becomes mode 3.
video_set_mode:
        mov byte [BDA_VIDEO_MODE], 3
        mov word [BDA_COLUMNS], COLUMNS
        mov byte [BDA_ROWS_MINUS_1], ROWS - 1
        mov byte [BDA_ACTIVE_PAGE], 0
        mov word [BDA_PAGE_START], 0
        mov di, BDA_CURSOR_POS  ; every page's cursor to the top left corner
        mov cx, 8
.cursor:
        mov word [di], 0
        add di, 2
        loop .cursor
        test al, 0x80
        jnz .keep
        xor di, di
        mov cx, COLUMNS * ROWS
        mov ax, DEFAULT_ATTR << 8 | ' '
        rep stosw               ; blanks, light grey on black
.keep:
        mov cx, 0x0607
        call set_cursor_shape
        xor dx, dx
        call set_cursor
        jmp video_return

; --- AH=01h: cursor shape: CH = start scan line (bit 5: hide it), CL = end scan line. --------
video_cursor_shape:
        call set_cursor_shape
        jmp video_return

; --- AH=02h: set the cursor of page BH to row DH, column DL. --------------------------------
video_set_cursor:
        cmp bh, 7
        ja video_return
        test bh, bh
        jz .page0
        movzx si, bh
        shl si, 1
        mov [BDA_CURSOR_POS + si], dx
        jmp video_return
.page0:
        call set_cursor
        jmp video_return

; --- AH=03h: get the cursor of page BH: DH = row, DL = column, CX = shape. ------------------
video_get_cursor:
        and bh, 7
        movzx si, bh
        shl si, 1
        mov dx, [BDA_CURSOR_POS + si]
        mov [bp+R_DX], dx
        mov cx, [BDA_CURSOR_SHAPE]
        mov [bp+R_CX], cx
        jmp video_return

; --- AH=05h: select the active page AL. Only page 0 exists on this screen. -----------------
video_set_page:
        test al, al
        jnz video_return
        mov [BDA_ACTIVE_PAGE], al
        jmp video_return

; --- AH=06h/07h: scroll a window up/down. ---------------------------------------------------
video_scroll_window:
        call video_scroll
        jmp video_return

; --- AH=08h: read the character and attribute at the cursor: AL = character, AH = attribute.
video_read_char:
        mov dx, [BDA_CURSOR_POS]
        call cell_offset
        mov ax, [es:di]
        mov [bp+R_AX], ax
        jmp video_return

; --- AH=09h: write character AL with attribute BL, CX times, from the cursor. ---------------
; AH=0Ah: the same, keeping the attributes already on screen. Neither moves the cursor.
video_write_char_attr:
video_write_char:
        mov dx, [BDA_CURSOR_POS]
        call cell_offset
        mov dl, ah              ; DL = the function (09h or 0Ah)
        mov ah, bl
.cell:
        jcxz .done
        cmp di, COLUMNS * ROWS * 2
        jae .done               ; stop at the end of the screen
        mov [es:di], al
        cmp dl, 0x09
        jne .next
        mov [es:di+1], ah
.next:
        add di, 2
        dec cx
        jmp .cell
.done:
        jmp video_return

; --- AH=0Eh: teletype output: print AL at the cursor and move it on, as a terminal would. ---
video_teletype:
        xor bh, bh              ; keep the attribute already on screen
        call tty_out
        jmp video_return

; --- AH=0Fh: get video mode: AL = mode, AH = columns, BH = active page. --------------------
video_get_mode:
        mov al, [BDA_VIDEO_MODE]
        mov [bp+R_AL], al
        mov al, [BDA_COLUMNS]
        mov [bp+R_AH], al
        mov al, [BDA_ACTIVE_PAGE]
        mov [bp+R_BH], al
        jmp video_return

; --- AH=12h, BL=10h: EGA/VGA information: colour, 256 KiB. ----------------------------------
video_alternate_select:
        cmp bl, 0x10
        jne video_return
        mov word [bp+R_BX], 0x0003      ; BH = 0 colour, BL = 3: 256 KiB
        mov word [bp+R_CX], 0x0009      ; switch settings of a VGA
        jmp video_return

; --- AH=1Ah, AL=00h: display combination: a VGA with a colour monitor. ----------------------
video_display_combination:
        test al, al
        jnz video_return
        mov byte [bp+R_AL], 0x1A        ; "function supported"
        mov word [bp+R_BX], 0x0008      ; BL = 08h: VGA, colour; BH = 0: no second display
        jmp video_return

; --- AH=13h: write string. ES:BP = the string, CX = its length, DH/DL = row/column to start,
; BL = attribute, AL = mode: bit 0 leaves the cursor after the string, bit 1 says the string
; alternates characters and attributes. Control characters act as in teletype output.
video_write_string:
        push fs
        mov fs, [bp+R_ES]
        mov si, [bp+R_BP]       ; FS:SI = the string (ES is the screen here)
        push word [BDA_CURSOR_POS]
        mov ah, al              ; AH = mode
        call set_cursor
        mov bh, 1               ; tty_out: write the attribute in BL too
.char:
        jcxz .done
        mov al, [fs:si]
        inc si
        test ah, 2
        jz .print
        mov bl, [fs:si]         ; the character's own attribute
        inc si
.print:
        call tty_out
        dec cx
        jmp .char
.done:
        pop dx                  ; where the cursor was
        test ah, 1
        jnz .leave
        call set_cursor         ; mode 0 and 2: the cursor goes back
.leave:
        pop fs
        jmp video_return

; ============================================================================================
; Helpers. All run with DS = BDA and ES = the screen, and preserve the registers they do not
; return.
; ============================================================================================

; tty_out: prints AL at the cursor as a terminal does: CR to column 0, LF one line down,
; backspace one column left, bell nothing (COM1 rings it); anything else is written and the
; cursor moves on, wrapping at the end of the line. Below the last line the screen scrolls up.
; BH = 0 keeps the cell's attribute, BH = 1 writes attribute BL.
tty_out:
        push ax
        push cx
        push dx
        push di
        call serial_putc        ; the same character on the serial console
        mov dx, [BDA_CURSOR_POS]        ; DH = row, DL = column
        cmp al, 13
        je .carriage_return
        cmp al, 10
        je .line_feed
        cmp al, 8
        je .backspace
        cmp al, 7
        je .done
        call cell_offset
        mov [es:di], al
        test bh, bh
        jz .advance
        mov [es:di+1], bl
.advance:
        inc dl
        cmp dl, COLUMNS
        jb .move
        xor dl, dl              ; past the last column: on to the next line
.line_feed:
        inc dh
        cmp dh, ROWS
        jb .move
        mov dh, ROWS - 1        ; past the last line: scroll everything up one line
        push bx
        push dx
        mov ax, 0x0601
        mov bh, DEFAULT_ATTR
        xor cx, cx
        mov dx, (ROWS - 1) << 8 | (COLUMNS - 1)
        call video_scroll
        pop dx
        pop bx
        jmp .move
.carriage_return:
        xor dl, dl
        jmp .move
.backspace:
        test dl, dl
        jz .done
        dec dl
.move:
        call set_cursor
.done:
        pop di
        pop dx
        pop cx
        pop ax
        ret

; cell_offset: DI = the offset in the screen of row DH, column DL: (row * 80 + column) * 2.
cell_offset:
        push ax
        mov al, dh
        mov ah, COLUMNS
        mul ah
        add al, dl
        adc ah, 0
        shl ax, 1
        mov di, ax
        pop ax
        ret

; set_cursor: puts page 0's cursor at row DH, column DL, in the BDA and on screen: the CRTC's
; registers 0Eh (high byte) and 0Fh (low byte) hold the cursor's cell number, row * 80 + column.
set_cursor:
        push ax
        push bx
        mov [BDA_CURSOR_POS], dx
        mov al, dh
        mov bl, COLUMNS
        mul bl
        movzx bx, dl
        add bx, ax
        mov al, 0x0E
        mov ah, bh
        call crtc_write
        mov al, 0x0F
        mov ah, bl
        call crtc_write
        pop bx
        pop ax
        ret

; set_cursor_shape: CH = start scan line, CL = end: BDA 0x460 and CRTC registers 0Ah, 0Bh.
set_cursor_shape:
        push ax
        mov [BDA_CURSOR_SHAPE], cx
        mov al, 0x0A
        mov ah, ch
        call crtc_write
        mov al, 0x0B
        mov ah, cl
        call crtc_write
        pop ax
        ret

; crtc_write: writes AH to CRT controller register AL. One word OUT puts the index (AL) in 3D4h
; and the value (AH) in 3D5h, as VGA drivers do: one I/O exit under a VMM instead of two, and
; the cursor moves after every character printed.
crtc_write:
        push dx
        mov dx, [BDA_CRTC_PORT]
        out dx, ax
        pop dx
        ret

; video_scroll: scrolls a window. AH = 06h up, 07h down; AL = lines (0: blank the window);
; BH = attribute of the blank lines; CH/CL = top row/left column, DH/DL = bottom row/right
; column. Row by row: each row of the window takes the row AL below it (up) or above it
; (down), or is blanked when that row is outside the window.
video_scroll:
        pusha
        cmp dl, COLUMNS - 1
        jbe .right_ok
        mov dl, COLUMNS - 1
.right_ok:
        cmp dh, ROWS - 1
        jbe .bottom_ok
        mov dh, ROWS - 1
.bottom_ok:
        cmp ch, dh
        ja .done
        cmp cl, dl
        ja .done
        mov bl, dl
        sub bl, cl
        inc bl                  ; BL = the window's width
        mov dl, dh
        sub dl, ch
        inc dl                  ; DL = its height
        test al, al
        jz .blank_all
        cmp al, dl
        jbe .lines_ok
.blank_all:
        mov al, dl
.lines_ok:                      ; AL = lines to move by, DH = bottom row, CH = top row
        cmp ah, 0x07
        je .down
        mov dl, ch              ; up: DL = each row from the top
.up_row:
        mov ah, dl
        add ah, al              ; AH = the row that moves into row DL
        cmp ah, dh
        ja .up_blank
        call scroll_copy_row
        jmp .up_next
.up_blank:
        call scroll_blank_row
.up_next:
        inc dl
        cmp dl, dh
        jbe .up_row
        jmp .done
.down:
        mov dl, dh              ; down: DL = each row from the bottom
.down_row:
        mov ah, dl
        sub ah, al              ; AH = the row that moves into row DL
        jb .down_blank
        cmp ah, ch
        jb .down_blank
        call scroll_copy_row
        jmp .down_next
.down_blank:
        call scroll_blank_row
.down_next:
        cmp dl, ch
        je .done
        dec dl
        jmp .down_row
.done:
        popa
        ret

; scroll_copy_row: copies row AH to row DL, BL cells from column CL.
scroll_copy_row:
        pusha
        push ds
        push dx
        mov dh, ah
        mov dl, cl
        call cell_offset
        mov si, di              ; from
        pop dx
        mov dh, dl
        mov dl, cl
        call cell_offset        ; to
        movzx cx, bl
        push es
        pop ds
        rep movsw
        pop ds
        popa
        ret

; scroll_blank_row: blanks row DL, BL cells from column CL, with attribute BH.
scroll_blank_row:
        pusha
        mov dh, dl
        mov dl, cl
        call cell_offset
        movzx cx, bl
        mov ah, bh
        mov al, ' '
        rep stosw
        popa
        ret
