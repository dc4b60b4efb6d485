; Exercise 05: paging on, with the first 4 MiB mapped twice: where they are (identity) and at
; 0xC0000000 (the higher half, where kernels live); then run from the higher half.
%include "boot32.inc"

HIGHER     equ 0xC0000000       ; linear 0xC0000000 + X is physical X
PAGE_DIR   equ 0x10000          ; 4 KiB-aligned pages for the tables
PAGE_TABLE equ 0x11000

main:
        ; TODO: fill the page table at PAGE_TABLE: entry i maps physical i * 4 KiB (present,
        ; writable), for all 1024 entries (4 MiB). Clear the page directory at PAGE_DIR, then
        ; point its entry 0 (linear 0-4 MiB) and its entry for HIGHER at the page table.

        ; TODO: load CR3 with the directory, and set CR0.PG (bit 31).

        ; Go on at the same code, through the higher half.
        jmp higher + HIGHER
higher:
        mov esi, message + HIGHER   ; read through the higher half too
        call print
.done:
        hlt
        jmp .done

message: db 'hello from the higher half', 13, 10, 0
