; Exercise 09: paging for a paravirtual guest: page tables built only through the VMM's
; hypercalls (docs/hypercalls.md), then paging on. Runs under --mode pv.
%include "boot32.inc"

L1_PFN   equ 0x10               ; pseudo-physical frames for the tables (paging is off: the
L2_PFN   equ 0x11               ; guest's addresses are pseudo-physical, and so are these)
REQUESTS equ 0x12000            ; mmu_update requests: 512 at most, 8 bytes each
P2M      equ 0x13000            ; the P2M table: the machine frame of each of the first 1024 PFNs

HC_P2M   equ 2                  ; the hypercalls: EAX = the call, EBX/ECX = arguments
HC_MMU   equ 3
HC_PIN1  equ 4
HC_PIN2  equ 5
HC_BASE  equ 7

main:
        ; The machine frames behind the first 4 MiB of pseudo-physical memory.
        mov eax, HC_P2M
        mov ebx, P2M
        mov ecx, 1024
        vmcall
        ; Two zeroed frames for the tables (plain writes: they are not pinned yet).
        xor eax, eax
        mov edi, L1_PFN << 12
        mov ecx, 2048
        rep stosd

        ; TODO: pin the L1 table and the L2 directory (calls 4 and 5 take machine addresses:
        ; mfn_of gives a PFN's machine frame; times 4096). From now on only mmu_update
        ; changes them.

        ; TODO: fill the L1 with mmu_update (call 3, at most 512 requests a call): entry i
        ; maps the first 4 MiB's PFN i, present and writable, by its machine frame, except
        ; the two tables' own frames, mapped read-only (a pinned table is never writable), and
        ; the PFNs that are not RAM (0xFFFFFFFF in the P2M), left 0.

        ; TODO: point the directory's entry 0 at the L1 (mmu_update again), load it as CR3
        ; (call 7), and set CR0.PG.

        mov esi, message
        call print
.done:
        hlt
        jmp .done

; mfn_of: EAX = the machine frame of pseudo-physical frame EAX.
mfn_of:
        mov eax, [P2M + eax * 4]
        ret

message: db 'paging on, through tables the VMM checked', 13, 10, 0
