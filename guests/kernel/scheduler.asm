; scheduler.asm - the process table and round-robin scheduling.
;
; Each process has its own kernel stack. Whatever brings it into the kernel (a system call, an
; exception, the timer) lands on that stack (TSS.ESP0), and when the kernel decides to run
; another process, it switches kernel stacks: switch_to saves the registers a function must
; preserve on the old stack, stores ESP in the old process's entry, loads the new one's ESP and
; pops its registers. The new process then returns from *its* own call to schedule, and on
; out through intr_return, back to ring 3 - in its own address space, because schedule loaded
; its CR3 first.
;
; The kernel is not preemptible: interrupts stay off inside it. Processes are preempted only
; when the timer interrupts ring 3, and give the CPU up in the kernel by yielding, sleeping or
; exiting.

; schedule: picks the next runnable process after the current one (round robin) and switches
; to it. Returns when the current process is chosen again. With nothing runnable but someone
; asleep, it waits for interrupts (the timer wakes sleepers); with nobody left, it shuts down.
; Preserves EBX, ESI, EDI, EBP (as any function here); EBP is the caller's frame throughout.
schedule:
        push ebx
        push esi
.again:
        mov esi, [current]              ; start looking after the current process
        test esi, esi
        jnz .look
        mov esi, procs + (MAX_PROCS - 1) * PROC_SIZE ; no current: start at the first
.look:
        mov ecx, MAX_PROCS
        mov ebx, esi
.next:
        add ebx, PROC_SIZE
        cmp ebx, procs + MAX_PROCS * PROC_SIZE
        jb .in_table
        mov ebx, procs                  ; wrap round
.in_table:
        cmp dword [ebx + P_STATE], P_RUNNABLE
        je .found
        loop .next
        ; Nobody runnable. Anyone asleep?
        mov ebx, procs
.sleeper:
        cmp dword [ebx + P_STATE], P_SLEEPING
        je .idle
        add ebx, PROC_SIZE
        cmp ebx, procs + MAX_PROCS * PROC_SIZE
        jb .sleeper
        jmp all_done                    ; kernel.asm: every process has ended
.idle:
        ; Wait for an interrupt with interrupts enabled for just this instruction pair: STI
        ; takes effect after the next instruction, so no interrupt can slip in between and
        ; leave HLT waiting for one that has already happened.
        sti
        hlt
        cli
        jmp .again
.found:
        cmp ebx, [current]
        je .out                         ; the same process: carry on
        inc dword [stat_switches]
        mov eax, [ebx + P_KSTACK_TOP]   ; its interrupts will land on its kernel stack
        mov [tss + TSS_ESP0], eax
        mov eax, [ebx + P_PD]           ; its address space
        call set_cr3
        mov esi, [current]
        mov [current], ebx
        lea eax, [esi + P_KESP]         ; where to save the old ESP
        test esi, esi
        jnz .switch
        mov eax, boot_kesp              ; the first switch leaves the boot stack for good
.switch:
        mov edx, [ebx + P_KESP]
        call switch_to
.out:
        pop esi
        pop ebx
        ret

; switch_to: saves the callee-saved registers and ESP (to [EAX]), loads ESP from EDX and
; restores the registers saved there. "Returns" into whatever the other stack was doing when
; it called switch_to - or, for a new process, into intr_return (proc_create set it up so).
switch_to:
        push ebp
        push ebx
        push esi
        push edi
        mov [eax], esp
        mov esp, edx
        pop edi
        pop esi
        pop ebx
        pop ebp
        ret

; wake_sleepers: makes runnable every sleeping process whose wake-up tick has come.
wake_sleepers:
        push ebx
        mov ebx, procs
.proc:
        cmp dword [ebx + P_STATE], P_SLEEPING
        jne .next
        mov eax, [ticks]
        cmp eax, [ebx + P_WAKE]
        jb .next
        mov dword [ebx + P_STATE], P_RUNNABLE
.next:
        add ebx, PROC_SIZE
        cmp ebx, procs + MAX_PROCS * PROC_SIZE
        jb .proc
        pop ebx
        ret
