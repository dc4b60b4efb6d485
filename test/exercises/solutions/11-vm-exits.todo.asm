;; The work of exercise 11: what goes at each TODO of guests/exercises/11-vm-exits/start.asm,
;; in order (test/exercises/solutions.ts puts it there; the rest of the solution is the skeleton).
;; TODO
        mov esi, 100
.cpuid:
        xor eax, eax
        cpuid
        dec esi
        jnz .cpuid
;; TODO
        mov esi, 50
.hypercall:
        xor eax, eax
        vmcall
        dec esi
        jnz .hypercall
        push eax
        mov esi, abi
        call print
        pop eax
        call print_hex
        mov esi, newline
        call print
;; TODO
        mov edx, 2              ; two passes
.pass:
        mov edi, FRESH
        mov ecx, FRESH_PAGES
.page:
        mov dword [edi], 0x5A5A5A5A
        add edi, 0x1000
        loop .page
        dec edx
        jnz .pass
        mov esi, touched
        call print
