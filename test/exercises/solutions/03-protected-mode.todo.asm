;; The work of exercise 03: what goes at each TODO of guests/exercises/03-protected-mode/start.asm,
;; in order (test/exercises/solutions.ts puts it there; the rest of the solution is the skeleton).
;; TODO
        lgdt [gdt_descriptor]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp dword CODE_SEL:pm32
;; TODO
        dq 0x00CF9A000000FFFF   ; code: base 0, limit 0xFFFFF x 4 KiB, 32-bit, readable, DPL 0
;; TODO
        dq 0x00CF92000000FFFF   ; data: base 0, limit 0xFFFFF x 4 KiB, writable, DPL 0
