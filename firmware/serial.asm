; serial.asm - COM1, the serial port: minivisor's headless console.
;
; Everything INT 10h prints also goes out of COM1, so a guest's output can be read (and
; tested) without a screen. The UART is a 16550: POST programs it for 115200 baud, 8 data
; bits, no parity, 1 stop bit ("8N1") with its FIFOs on.

; serial_init: programs COM1 (its port is in the BDA at 0x400).
serial_init:
        mov dx, COM1_BASE + 3   ; LCR (line control)
        mov al, 0x80            ; DLAB = 1: ports +0/+1 become the baud-rate divisor
        out dx, al
        mov dx, COM1_BASE + 0
        mov al, 1               ; divisor 1: 115200 baud (the UART's clock is 1.8432 MHz / 16)
        out dx, al
        inc dx
        xor al, al
        out dx, al
        mov dx, COM1_BASE + 3
        mov al, 0x03            ; DLAB = 0, 8 data bits, no parity, 1 stop bit
        out dx, al
        mov dx, COM1_BASE + 2   ; FCR (FIFO control)
        mov al, 0xC7            ; enable and clear both FIFOs, receive trigger at 14 bytes
        out dx, al
        mov dx, COM1_BASE + 1   ; IER: no interrupts - the BIOS polls
        xor al, al
        out dx, al
        mov dx, COM1_BASE + 4   ; MCR: DTR and RTS on
        mov al, 0x03
        out dx, al
        ret

; serial_putc: sends AL to COM1. Waits (a bounded while) for the transmitter to be empty:
; bit 5 of the line status register. Preserves all registers.
serial_putc:
        push ax
        push cx
        push dx
        push ds
        xor dx, dx
        mov ds, dx
        mov dx, [0x400 + BDA_COM1]
        pop ds
        test dx, dx
        jz .done                ; no COM1
        mov ah, al
        add dx, 5               ; LSR (line status)
        mov cx, 0xFFFF
.wait:
        in al, dx
        test al, 0x20           ; THRE: the transmit holding register is empty
        jnz .send
        loop .wait
.send:
        sub dx, 5
        mov al, ah
        out dx, al
.done:
        pop dx
        pop cx
        pop ax
        ret
