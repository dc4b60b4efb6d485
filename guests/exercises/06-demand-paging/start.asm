; Exercise 06: a page-fault handler that maps pages on demand, so that the program can use
; memory at 0x40000000 that nothing mapped before it touched it.
%include "boot32.inc"

PAGE_DIR    equ 0x10000
LOW_TABLE   equ 0x11000         ; maps 0-4 MiB to itself
HEAP_TABLE  equ 0x12000         ; maps 0x40000000-0x403FFFFF: empty at first
HEAP        equ 0x40000000
FIRST_FRAME equ 0x200000        ; frames handed out from here (2 MiB up: unused RAM)

main:
        ; The free frames hold what memory holds once it has been used: not zeros.
        mov edi, FIRST_FRAME
        mov eax, 0xDEADBEEF
        mov ecx, 2048
        rep stosd
        ; Paging, as in exercise 05: the first 4 MiB identity-mapped, and a page table for
        ; the heap with no entry present yet.
        mov edi, LOW_TABLE
        mov eax, 0x003
        mov ecx, 1024
.fill:
        stosd
        add eax, 0x1000
        loop .fill
        xor eax, eax
        mov edi, HEAP_TABLE
        mov ecx, 1024
        rep stosd
        mov edi, PAGE_DIR
        mov ecx, 1024
        rep stosd
        mov dword [PAGE_DIR], LOW_TABLE | 3
        mov dword [PAGE_DIR + (HEAP >> 22) * 4], HEAP_TABLE | 3
        mov eax, PAGE_DIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000      ; PG, and WP: read-only pages are read-only for the kernel too
        mov cr0, eax
        ; The IDT, as in exercise 04: vector 14 (#PF) goes to pf_handler.
        mov eax, pf_handler
        mov edi, idt + 8 * 14
        mov [edi], ax
        mov word [edi + 2], CODE_SEL
        mov word [edi + 4], 0x8E00
        shr eax, 16
        mov [edi + 6], ax
        lidt [idt_descriptor]

        ; The program: two pages of the heap, used as if they were there.
        mov dword [HEAP + 0x1000], 0x1234
        mov eax, [HEAP + 0x1000]
        mov esi, read_back
        call print
        call print_hex
        mov esi, newline
        call print
        mov ebx, [HEAP + 0x5000]    ; the first touch of another page: a read of what is there
        mov esi, fresh
        call print
        mov eax, ebx
        call print_hex
        mov esi, newline
        call print
        mov dword [HEAP + 0x5000], 0x5678
        mov esi, done
        call print
.done:
        hlt
        jmp .done

pf_handler:
        ; TODO: the CPU pushed an error code, then EIP, CS, EFLAGS; CR2 holds the address
        ; that faulted. Print "page fault at " and CR2; take the next free frame (next_frame,
        ; then move it on by 4 KiB), fill it with zeros, and put it in HEAP_TABLE's entry for
        ; CR2 (present, writable). Then drop the error code and IRETD: the CPU runs the
        ; faulting instruction again, and this time it finds the page.
        hlt

next_frame: dd FIRST_FRAME
read_back:  db 'read back ', 0
done:       db 'both pages in use', 13, 10, 0
fault_at:   db 'page fault at ', 0
fresh:      db 'a fresh page reads ', 0
newline:    db 13, 10, 0

        align 8
idt:    times 32 dq 0
idt_end:
idt_descriptor:
        dw idt_end - idt - 1
        dd idt
