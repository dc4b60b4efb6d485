; Exercise 11: cause VM exits on purpose, and know how many: CPUID, hypercalls, and the first
; touch of guest-physical pages the EPT does not map yet. Runs under --mode ept.
%include "boot32.inc"

FRESH       equ 0x400000        ; 4 MiB up: RAM nothing has touched yet
FRESH_PAGES equ 64

main:
        ; TODO: run CPUID 100 times (EAX = 0 each time: leaf 0, the vendor).

        ; TODO: ask the hypervisor its ABI version 50 times (hypercall 0: EAX = 0, VMCALL;
        ; the answer comes back in EAX), and print "hypervisor ABI version " and the last
        ; answer (print_hex).

        ; TODO: write 0x11111111 to the first dword of each of the FRESH_PAGES pages from
        ; FRESH, then 0x22222222 to each, a second pass.

        ; The check of the second pass (written).
        mov edi, FRESH
        mov ecx, FRESH_PAGES
.check:
        cmp dword [edi], 0x22222222
        jne .done
        add edi, 0x1000
        loop .check
        mov esi, touched
        call print

.done:
        hlt
        jmp .done

abi:     db 'hypervisor ABI version ', 0
touched: db 'touched 64 pages twice', 13, 10, 0
newline: db 13, 10, 0
