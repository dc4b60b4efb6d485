; A Multiboot kernel: what a boot loader hands a kernel, printed on COM1.
;
; minivisor loads it (the header's a.out-kludge addresses say where), and the BIOS enters it
; in 32-bit protected mode with EAX = 0x2BADB002 and EBX = the Multiboot information
; structure, as the Multiboot specification 0.6.96 says. Run it with:
;     npx minivisor run guests/multiboot/multiboot.asm --append "hello kernel"
        bits 32
        org 0x100000

MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00010000              ; bit 16: the load addresses are in this header
COM1            equ 0x3F8

header:
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)
        dd header                           ; header_addr: where this header is loaded
        dd header                           ; load_addr: the start of the file
        dd 0                                ; load_end_addr: the whole file
        dd bss_end                          ; bss_end_addr: zeroed after the file
        dd start                            ; entry_addr

start:
        mov esp, stack_top
        cmp eax, 0x2BADB002
        jne .bad_magic
        mov [info], ebx

        mov esi, msg_hello
        call print
        mov esi, msg_lower                  ; mem_lower and mem_upper, in KiB (flags bit 0)
        call print
        mov ebx, [info]
        mov eax, [ebx + 4]
        call print_hex
        mov esi, msg_upper
        call print
        mov eax, [ebx + 8]
        call print_hex
        mov esi, msg_kib
        call print

        mov esi, msg_cmdline                ; the command line (flags bit 2)
        call print
        mov esi, [ebx + 16]
        call print
        mov esi, msg_quote_newline
        call print

        mov esi, msg_loader                 ; the boot loader's name (flags bit 9)
        call print
        mov esi, [ebx + 64]
        call print
        mov esi, msg_newline
        call print

        ; The memory map (flags bit 6): entries of size, base (64 bits), length (64 bits), type.
        mov esi, msg_mmap
        call print
        mov edi, [ebx + 48]                 ; mmap_addr
        mov ecx, [ebx + 44]                 ; mmap_length
        add ecx, edi
.entry: cmp edi, ecx
        jae .done
        mov eax, [edi + 8]                  ; base, high then low dword
        call print_hex
        mov eax, [edi + 4]
        call print_hex
        mov al, ' '
        call putc
        mov eax, [edi + 16]                 ; length
        call print_hex
        mov eax, [edi + 12]
        call print_hex
        mov al, ' '
        call putc
        mov eax, [edi + 20]                 ; type
        add al, '0'
        call putc
        mov al, 10
        call putc
        add edi, [edi]                      ; the size field does not count itself
        add edi, 4
        jmp .entry
.done:  cli
        hlt

.bad_magic:
        mov esi, msg_bad_magic
        call print
        cli
        hlt

; print: the zero-terminated string at ESI on COM1.
print:  push eax
.next:  lodsb
        test al, al
        jz .end
        call putc
        jmp .next
.end:   pop eax
        ret

; print_hex: EAX as eight hex digits.
print_hex:
        push ecx
        mov ecx, 8
.digit: rol eax, 4
        push eax
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 7
.out:   call putc
        pop eax
        loop .digit
        pop ecx
        ret

; putc: AL on COM1, once the transmitter is empty (LSR bit 5); a line feed goes as CR LF, as a
; serial terminal wants it (and as the other guests send it).
putc:   cmp al, 10
        jne putc_raw
        mov al, 13
        call putc_raw
        mov al, 10
putc_raw:
        push edx
        push eax
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        pop eax
        mov dx, COM1
        out dx, al
        pop edx
        ret

msg_hello:          db "multiboot: entered with EAX = 0x2BADB002", 10, 0
msg_lower:          db "memory: lower ", 0
msg_upper:          db " KiB, upper ", 0
msg_kib:            db " KiB", 10, 0
msg_newline:        db 10, 0
msg_cmdline:        db 'command line: "', 0
msg_quote_newline:  db '"', 10, 0
msg_loader:         db "boot loader: ", 0
msg_mmap:           db "memory map (base length type):", 10, 0
msg_bad_magic:      db "multiboot: EAX is not 0x2BADB002: not entered by a Multiboot loader", 10, 0

        section .bss                        ; not in the file: the loader zeroes it (bss_end_addr)
        alignb 4
info:   resd 1
stack:  resb 1024
stack_top:
bss_end:
