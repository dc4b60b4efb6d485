; user.asm - the user programs: ring 3 code. All of them are assembled into one image, placed
; at USER_BASE (0x40000000) in every process's address space (each process gets its own copy,
; read-only); each process starts at a different entry point in it. They reach the kernel only
; through `int 0x80` (syscalls.asm for the numbers). Their writable memory is their stack and
; their heap: both start empty and the kernel maps pages as they are first touched.

; ---- A small C library, in assembly ---------------------------------------------------------
%macro SYSCALL 1
        mov eax, %1
        int 0x80
%endmacro

; uprint: prints the string that follows the call (like the kernel's print, console.asm).
uprint:
        pushad
        mov esi, [esp + 32]             ; the return address: the string
        mov edi, esi
        xor eax, eax
        mov ecx, -1
        cld
        repne scasb                     ; find the terminator
        mov [esp + 32], edi             ; return past it
        lea edx, [edi - 1]
        sub edx, esi                    ; the length
        mov ecx, esi
        mov ebx, 1                      ; stdout
        SYSCALL SYS_WRITE
        popad
        ret

; uprint_dec: prints EAX in decimal (signed).
uprint_dec:
        pushad
        sub esp, 16                     ; a buffer on the stack (which grows on demand)
        lea edi, [esp + 16]             ; filled from its end
        mov ebx, 10
        mov esi, eax                    ; the sign, for later
        test eax, eax
        jns .digit
        neg eax
.digit:
        xor edx, edx
        div ebx
        add dl, '0'
        dec edi
        mov [edi], dl
        test eax, eax
        jnz .digit
        test esi, esi
        jns .write
        dec edi
        mov byte [edi], '-'
.write:
        lea edx, [esp + 16]
        sub edx, edi
        mov ecx, edi
        mov ebx, 1
        SYSCALL SYS_WRITE
        add esp, 16
        popad
        ret

; uprint_hex: prints EAX as 0x and eight hexadecimal digits.
uprint_hex:
        pushad
        sub esp, 12
        mov word [esp], '0x'
        lea edi, [esp + 2]
        mov ecx, 8
.digit:
        rol eax, 4
        mov edx, eax
        and edx, 0x0F
        mov dl, [hex_digits + edx]
        mov [edi], dl
        inc edi
        loop .digit
        mov ecx, esp
        mov edx, 10
        mov ebx, 1
        SYSCALL SYS_WRITE
        add esp, 12
        popad
        ret
hex_digits: db '0123456789ABCDEF'

; ---- counter: prints five lines, yielding the CPU after each -----------------------------------
counter:
        SYSCALL SYS_GETPID
        mov ebp, eax
        mov edi, 1
.line:
        call uprint
        db 'counter: line ', 0
        mov eax, edi
        call uprint_dec
        call uprint
        db ' of 5 (pid ', 0
        mov eax, ebp
        call uprint_dec
        call uprint
        db ')', 10, 0
        SYSCALL SYS_YIELD
        inc edi
        cmp edi, 5
        jbe .line
        mov ebx, 0
        SYSCALL SYS_EXIT

; ---- heap: grows its heap with sbrk, uses it, and tries some bad pointers ----------------------
HEAP_BYTES      equ 4 * 4096
heap:
        mov ebx, HEAP_BYTES
        SYSCALL SYS_SBRK                ; EAX = the old break = our new memory
        mov esi, eax
        call uprint
        db 'heap: sbrk(16384) returned ', 0
        call uprint_hex
        call uprint
        db 10, 0
        mov ecx, HEAP_BYTES / 4         ; fill it: each first touch of a page is a page fault
        xor eax, eax
.fill:
        mov [esi + eax * 4], eax
        inc eax
        loop .fill
        mov ecx, HEAP_BYTES / 4         ; and read it back
        xor eax, eax
        xor edx, edx
.sum:
        add edx, [esi + ecx * 4 - 4]
        loop .sum
        call uprint
        db 'heap: the sum of 0..4095 from the heap is ', 0
        mov eax, edx
        call uprint_dec
        call uprint
        db 10, 0
        xor ebx, ebx
        SYSCALL SYS_BRK                 ; brk(0): where is the break now?
        call uprint
        db 'heap: brk(0) says the break is at ', 0
        call uprint_hex
        call uprint
        db 10, 0
        mov ebx, 1                      ; write() with a kernel address: refused
        mov ecx, 0x10000
        mov edx, 16
        SYSCALL SYS_WRITE
        call uprint
        db 'heap: write(1, 0x00010000, 16) returned ', 0
        call uprint_dec
        call uprint
        db 10, 0
        mov ebx, 1                      ; ... and with an address past the break: refused too
        lea ecx, [esi + HEAP_BYTES + 4096]
        mov edx, 16
        SYSCALL SYS_WRITE
        call uprint
        db 'heap: write() from past the break returned ', 0
        call uprint_dec
        call uprint
        db 10, 0
        mov ebx, -HEAP_BYTES            ; give the memory back
        SYSCALL SYS_SBRK
        mov ebx, 0
        SYSCALL SYS_EXIT

; ---- sleeper: sleeps three times --------------------------------------------------------------
sleeper:
        mov edi, 1
.nap:
        mov ebx, 5                      ; 5 ticks: 50 ms
        SYSCALL SYS_SLEEP
        call uprint
        db 'sleeper: woke from nap ', 0
        mov eax, edi
        call uprint_dec
        call uprint
        db ' of 3', 10, 0
        inc edi
        cmp edi, 3
        jbe .nap
        mov ebx, 7
        SYSCALL SYS_EXIT

; ---- spinner: computes without system calls; only the timer takes the CPU from it ----------------
SPIN_LOOPS      equ 1000000
RECURSION_DEPTH equ 3000
spinner:
        mov ecx, RECURSION_DEPTH        ; a deep recursion: the stack grows, page by page
        call sum_to
        call uprint
        db 'spinner: 1 + 2 + ... + 3000 by recursion = ', 0
        call uprint_dec
        call uprint
        db 10, 0
        mov edi, 1
.round:
        mov ecx, SPIN_LOOPS
.spin:
        dec ecx
        jnz .spin
        call uprint
        db 'spinner: round ', 0
        mov eax, edi
        call uprint_dec
        call uprint
        db ' of 3 done', 10, 0
        inc edi
        cmp edi, 3
        jbe .round
        mov ebx, 0
        SYSCALL SYS_EXIT

; sum_to: EAX = 1 + 2 + ... + ECX, the slow way (8 bytes of stack per level).
sum_to:
        test ecx, ecx
        jnz .more
        xor eax, eax
        ret
.more:
        push ecx
        dec ecx
        call sum_to
        pop ecx
        add eax, ecx
        ret

; ---- The misbehaving ones ----------------------------------------------------------------------
; cli: only the kernel may turn interrupts off. In ring 3 with IOPL 0, CLI is a #GP.
bad_cli:
        call uprint
        db 'cli: turning interrupts off from ring 3', 10, 0
        cli
        call uprint
        db 'cli: still here: this is wrong', 10, 0
        mov ebx, 1
        SYSCALL SYS_EXIT

; kwrite: the kernel is mapped in every address space, but supervisor-only.
bad_kwrite:
        call uprint
        db 'kwrite: writing to the kernel at 0x00010000', 10, 0
        mov dword [0x10000], 0xDEADBEEF
        call uprint
        db 'kwrite: still here: this is wrong', 10, 0
        mov ebx, 1
        SYSCALL SYS_EXIT

; wild: reads an address in user space that is neither code, heap nor stack.
bad_wild:
        call uprint
        db 'wild: reading 0x80000000, which nobody mapped', 10, 0
        mov eax, [0x80000000]
        call uprint
        db 'wild: still here: this is wrong', 10, 0
        mov ebx, 1
        SYSCALL SYS_EXIT
