; Exercise 10: two address spaces, A and B, that see different memory at 0x40000000, switched
; 1000 times each way. Correct as it is; your work is to make it cheap under shadow paging.
%include "boot32.inc"

SHARED     equ 0x40000000       ; each address space's own page here
LOW_TABLE  equ 0x10000          ; the first 4 MiB, identity: shared by both
FRAME_A    equ 0x200000         ; what A sees at SHARED
FRAME_B    equ 0x201000         ; what B sees at SHARED
ROUNDS     equ 1000

; Page tables as they are now: one directory and one table for SHARED, whose entry is
; rewritten at every switch. (Free pages for yours: 0x13000 to 0x1FFFF.)
DIR        equ 0x11000
SHARED_PT  equ 0x12000

main:
        ; The identity map of the first 4 MiB (as in exercise 05).
        mov edi, LOW_TABLE
        mov eax, 0x003
        mov ecx, 1024
.fill:
        stosd
        add eax, 0x1000
        loop .fill
        xor eax, eax
        mov edi, DIR
        mov ecx, 2048           ; the directory and the shared table, cleared
        rep stosd
        mov dword [DIR], LOW_TABLE | 3
        mov dword [DIR + (SHARED >> 22) * 4], SHARED_PT | 3
        mov eax, DIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax

        ; TODO: build what cheap switches need, once, before the rounds.

        mov ecx, ROUNDS
.round:
        call switch_to_a
        inc dword [SHARED]
        call switch_to_b
        inc dword [SHARED]
        loop .round

        mov esi, text_a
        call print
        mov eax, [FRAME_A]
        call print_hex
        mov esi, text_b
        call print
        mov eax, [FRAME_B]
        call print_hex
        mov esi, newline
        call print
.done:
        hlt
        jmp .done

; The switches, as they are: each writes a page-table entry, which under shadow paging costs
; VM exits (the VMM write-protects the guest's tables to keep its shadows true, and what it
; built from the old entry must go), and then reloads CR3. Give A and B each a directory of
; its own (both with the identity map, each with its own table for SHARED), built once; then
; a switch is only a MOV to CR3, and the VMM's shadow-table cache keeps both ready.
switch_to_a:
        ; TODO: switch to A with CR3 alone.
        mov dword [SHARED_PT], FRAME_A | 3
        mov eax, DIR
        mov cr3, eax            ; (flushes the TLB: the old entry for SHARED goes)
        ret
switch_to_b:
        ; TODO: switch to B with CR3 alone.
        mov dword [SHARED_PT], FRAME_B | 3
        mov eax, DIR
        mov cr3, eax
        ret

text_a:  db 'A counted ', 0
text_b:  db ', B counted ', 0
newline: db 13, 10, 0
