; timer.asm - INT 08h (the timer interrupt, IRQ 0), the other IRQs, and INT 1Ah (time of day).
;
; The 8254's channel 0 interrupts 18.2 times a second. Each tick the BIOS counts at 0040:006C;
; there are 1800B0h ticks in a day, and at that count it starts again from 0 and sets the
; "midnight" flag at 0040:0070 (DOS reads it to advance the date). Then it calls INT 1Ch, a
; hook programs may take, and ends the interrupt at the PIC.

int08_timer:
        push ax
        push ds
        mov ax, BDA_SEG
        mov ds, ax
        inc dword [BDA_TICKS]
        cmp dword [BDA_TICKS], TICKS_PER_DAY
        jb .counted
        mov dword [BDA_TICKS], 0
        mov byte [BDA_MIDNIGHT], 1
.counted:
        int 0x1C                ; the user's tick hook (an IRET unless someone took it)
        mov al, PIC_EOI
        out PIC1_COMMAND, al    ; end of interrupt: the PIC may deliver IRQ 0 (and lower) again
        pop ds
        pop ax
        iret

; IRQs 2-7 that nobody handles: end the interrupt, unless it was spurious. When a request
; goes away before the CPU acknowledges it, the 8259 answers with IRQ 7 without setting its
; in-service bit - and must not get an EOI for it, which would end some other interrupt.
irq_master:
        push ax
        mov al, 0x0B            ; OCW3: the next read of the command port gives the ISR
        out PIC1_COMMAND, al
        in al, PIC1_COMMAND
        test al, al
        jz .spurious
        mov al, PIC_EOI
        out PIC1_COMMAND, al
.spurious:
        pop ax
        iret

; IRQs 8-15: they come through the master's IRQ 2, so both chips get an EOI (the master's
; alone if the slave's request was spurious).
irq_slave:
        push ax
        mov al, 0x0B
        out PIC2_COMMAND, al
        in al, PIC2_COMMAND
        test al, al
        jz .master
        mov al, PIC_EOI
        out PIC2_COMMAND, al
.master:
        mov al, PIC_EOI
        out PIC1_COMMAND, al
        pop ax
        iret

; --- INT 1Ah: time of day. -----------------------------------------------------------------
int1a_time:
        SERVICE_ENTER
        mov si, BDA_SEG
        mov ds, si
        cmp ah, 0x00
        je .read_ticks
        cmp ah, 0x01
        je .set_ticks
        cmp ah, 0x02
        je .read_time
        cmp ah, 0x04
        je .read_date
        RETURN_CARRY
        SERVICE_LEAVE

; AH=00h: CX:DX = ticks since midnight, AL = midnight flag (reading it clears it).
.read_ticks:
        cli                     ; the two words must come from the same tick
        mov ax, [BDA_TICKS]
        mov [bp+R_DX], ax
        mov ax, [BDA_TICKS+2]
        mov [bp+R_CX], ax
        mov al, [BDA_MIDNIGHT]
        mov [bp+R_AL], al
        mov byte [BDA_MIDNIGHT], 0
        RETURN_NO_CARRY
        SERVICE_LEAVE

; AH=01h: set the tick count to CX:DX.
.set_ticks:
        cli
        mov [BDA_TICKS], dx
        mov [BDA_TICKS+2], cx
        mov byte [BDA_MIDNIGHT], 0
        RETURN_NO_CARRY
        SERVICE_LEAVE

; AH=02h: the RTC's time, in BCD: CH hours, CL minutes, DH seconds, DL = 0 (no daylight
; saving). CF set if the clock does not answer.
.read_time:
        call rtc_wait
        jc .rtc_failed
        mov al, 0x04
        call cmos_read
        mov [bp+R_CH], al
        mov al, 0x02
        call cmos_read
        mov [bp+R_CL], al
        mov al, 0x00
        call cmos_read
        mov [bp+R_DH], al
        mov byte [bp+R_DL], 0
        RETURN_NO_CARRY
        SERVICE_LEAVE

; AH=04h: the RTC's date, in BCD: CH century, CL year, DH month, DL day.
.read_date:
        call rtc_wait
        jc .rtc_failed
        mov al, 0x32
        call cmos_read
        mov [bp+R_CH], al
        mov al, 0x09
        call cmos_read
        mov [bp+R_CL], al
        mov al, 0x08
        call cmos_read
        mov [bp+R_DH], al
        mov al, 0x07
        call cmos_read
        mov [bp+R_DL], al
        RETURN_NO_CARRY
        SERVICE_LEAVE
.rtc_failed:
        RETURN_CARRY
        SERVICE_LEAVE

; cmos_read: AL = CMOS register AL. Port 70h selects, port 71h reads.
cmos_read:
        out CMOS_INDEX, al
        in al, CMOS_DATA
        ret

; rtc_wait: waits until the RTC is not in the middle of updating its registers (status
; register A, bit 7: set for the 244 us before each update and during it), so that the time
; read next is consistent. CF set if it never stops updating - or is not there, and reads as
; FFh. 20000 polls take well over a millisecond, at any speed a PC runs.
rtc_wait:
        push ax
        push cx
        mov cx, 20000
.poll:
        mov al, 0x0A
        call cmos_read
        test al, 0x80
        jz .ready
        loop .poll
        stc
        jmp .done
.ready:
        clc
.done:
        pop cx
        pop ax
        ret

; bcd_to_binary: AL (two BCD digits) -> AL (binary).
bcd_to_binary:
        push cx
        mov cl, al
        shr al, 4
        mov ch, 10
        mul ch                  ; AX = tens * 10
        and cl, 0x0F
        add al, cl
        pop cx
        ret

; timer_init_ticks: sets the tick count from the RTC's time of day, as DOS expects:
; ticks = seconds since midnight * 1800B0h / 86400. DS = BDA. Without an RTC, 0.
timer_init_ticks:
        pushad
        xor ebx, ebx            ; EBX = seconds since midnight
        call rtc_wait
        jc .store
        mov al, 0x04            ; hours
        call cmos_read
        call bcd_to_binary
        movzx eax, al
        imul ebx, eax, 3600
        mov al, 0x02            ; minutes
        call cmos_read
        call bcd_to_binary
        movzx eax, al
        imul eax, eax, 60
        add ebx, eax
        mov al, 0x00            ; seconds
        call cmos_read
        call bcd_to_binary
        movzx eax, al
        add ebx, eax
        cmp ebx, 86400
        jb .store
        xor ebx, ebx            ; not a time of day
.store:
        mov eax, ebx
        mov ecx, TICKS_PER_DAY
        mul ecx                 ; EDX:EAX = seconds * ticks per day
        mov ecx, 86400
        div ecx                 ; EAX = ticks
        mov [BDA_TICKS], eax
        popad
        ret
