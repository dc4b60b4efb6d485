;; The work of exercise 01: what goes at each TODO of guests/exercises/01-hello-bios/start.asm,
;; in order (test/exercises/solutions.ts puts it there; the rest of the solution is the skeleton).
;; TODO
        mov si, message
        cld
.next:
        lodsb
        test al, al
        jz .done
        mov ah, 0x0E
        xor bx, bx
        int 0x10
        jmp .next
