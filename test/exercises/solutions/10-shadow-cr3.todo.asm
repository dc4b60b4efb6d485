;; The work of exercise 10: what goes at each TODO of guests/exercises/10-shadow-cr3/start.asm,
;; in order (test/exercises/solutions.ts puts it there; the rest of the solution is the skeleton).
;; TODO
DIR_A equ 0x13000               ; A's directory and its table for SHARED; then B's
PT_A  equ 0x14000
DIR_B equ 0x15000
PT_B  equ 0x16000
        xor eax, eax
        mov edi, DIR_A
        mov ecx, 4096           ; four pages: DIR_A, PT_A, DIR_B, PT_B
        rep stosd
        mov dword [DIR_A], LOW_TABLE | 3
        mov dword [DIR_A + (SHARED >> 22) * 4], PT_A | 3
        mov dword [PT_A], FRAME_A | 3
        mov dword [DIR_B], LOW_TABLE | 3
        mov dword [DIR_B + (SHARED >> 22) * 4], PT_B | 3
        mov dword [PT_B], FRAME_B | 3
;; TODO
        mov eax, DIR_A
        mov cr3, eax
        ret
;; TODO
        mov eax, DIR_B
        mov cr3, eax
        ret
