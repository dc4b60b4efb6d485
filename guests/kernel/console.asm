; console.asm - the kernel's output: COM1, polled. The BIOS has already programmed the UART
; (speed, 8N1); the kernel only waits for the transmit holding register to be empty (line
; status register, bit 5) and writes the next byte. No interrupts, no buffer: slow on real
; hardware, simple to follow, and deterministic.
;
; Every routine here preserves all registers except where it says otherwise.

; putc: sends AL. A line feed goes out as CR LF, as a terminal expects.
putc:
        push eax
        push edx
        cmp al, 10
        jne .send
        mov al, 13
        call .raw
        mov al, 10
.send:
        call .raw
        pop edx
        pop eax
        ret
.raw:
        push eax
        mov dx, COM1 + 5                ; line status register
.wait:
        in al, dx
        test al, 0x20                   ; transmit holding register empty?
        jz .wait
        pop eax
        mov dx, COM1                    ; transmit holding register
        out dx, al
        ret

; puts: prints the zero-terminated string at ESI.
puts:
        push eax
        push esi
.next:
        lodsb
        test al, al
        jz .done
        call putc
        jmp .next
.done:
        pop esi
        pop eax
        ret

; putn: prints ECX bytes from ESI (no terminator needed).
putn:
        push eax
        push ecx
        push esi
        jecxz .done
.next:
        lodsb
        call putc
        loop .next
.done:
        pop esi
        pop ecx
        pop eax
        ret

; put_hex: prints EAX as 0x and eight hexadecimal digits.
put_hex:
        push eax
        mov al, '0'
        call putc
        mov al, 'x'
        call putc
        pop eax
; put_hex_digits: EAX as eight hexadecimal digits, no prefix.
put_hex_digits:
        push eax
        push ecx
        mov ecx, 8
.digit:
        rol eax, 4                      ; the top nibble comes round to the bottom
        push eax
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '0' - 10
.out:
        call putc
        pop eax
        loop .digit
        pop ecx
        pop eax
        ret

; put_dec: prints EAX as an unsigned decimal number.
put_dec:
        push eax
        push ecx
        push edx
        push ebx
        mov ebx, 10
        xor ecx, ecx                    ; digits pushed
.divide:
        xor edx, edx
        div ebx
        push edx                        ; the digits come out lowest first: stack them
        inc ecx
        test eax, eax
        jnz .divide
.print:
        pop eax
        add al, '0'
        call putc
        loop .print
        pop ebx
        pop edx
        pop ecx
        pop eax
        ret

; put_sdec: prints EAX as a signed decimal number.
put_sdec:
        test eax, eax
        jns put_dec
        push eax
        mov al, '-'
        call putc
        pop eax
        push eax
        neg eax
        call put_dec
        pop eax
        ret

; print: prints the string that follows the call in the code, then returns past it:
;       call print
;       db 'text', 10, 0
; It keeps messages next to the code that prints them, which reads well in a kernel.
print:
        push eax
        xchg esi, [esp + 4]             ; ESI = the string; the caller's ESI saved in its place
        call puts
.skip:
        lodsb                           ; move past the string and its terminator
        test al, al
        jnz .skip
        xchg esi, [esp + 4]             ; return address = past the string; ESI restored
        pop eax
        ret
