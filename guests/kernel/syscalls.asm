; syscalls.asm - the system calls: `int 0x80` from ring 3, as Linux i386 does it.
;
;   EAX = the call's number; EBX, ECX, EDX = its arguments; the result comes back in EAX
;   (negative: -errno). Every other register is preserved.
;
;   nr    call                     result
;   1     exit(code)               does not return
;   4     write(fd, buf, len)      len written; fd must be 1 or 2 (the console)
;   20    getpid()                 the process id
;   45    brk(addr)                the new break, or the old one if addr is 0 or not allowed
;   158   sched_yield()            0; other runnable processes run first
;   1000  sbrk(increment)          the old break (the start of the new memory), or -ENOMEM
;   1001  sleep(ticks)             0, after at least `ticks` timer ticks (PIT_HZ per second)
;
; 1-158 are Linux's numbers for the same calls; 1000 and up are this kernel's own.
; Errors: -EFAULT (-14) a pointer that is not the process's memory, -EBADF (-9) a file
; descriptor that is not the console, -ENOMEM (-12) no room to grow, -EINVAL (-22) a bad
; argument, -ENOSYS (-38) no such call.
SYS_EXIT        equ 1
SYS_WRITE       equ 4
SYS_GETPID      equ 20
SYS_BRK         equ 45
SYS_YIELD       equ 158
SYS_SBRK        equ 1000
SYS_SLEEP       equ 1001

EBADF           equ 9
ENOMEM          equ 12
EFAULT          equ 14
EINVAL          equ 22
ENOSYS          equ 38

syscall_table:
        dd SYS_EXIT, sys_exit
        dd SYS_WRITE, sys_write
        dd SYS_GETPID, sys_getpid
        dd SYS_BRK, sys_brk
        dd SYS_YIELD, sys_yield
        dd SYS_SBRK, sys_sbrk
        dd SYS_SLEEP, sys_sleep
        dd -1

; syscall_dispatch: EBP = the frame. Finds the call, runs it with its arguments in EBX, ECX,
; EDX (as the process left them), and stores its result (EAX) where IRET's way out will pop
; the process's EAX from.
syscall_dispatch:
        inc dword [stat_syscalls]
        mov eax, [ebp + F_EAX]
        mov esi, syscall_table
.find:
        cmp dword [esi], -1
        je .unknown
        cmp [esi], eax
        je .found
        add esi, 8
        jmp .find
.found:
        mov ebx, [ebp + F_EBX]
        mov ecx, [ebp + F_ECX]
        mov edx, [ebp + F_EDX]
        call [esi + 4]
        mov [ebp + F_EAX], eax
        ret
.unknown:
        mov dword [ebp + F_EAX], -ENOSYS
        ret

; ---- Checking pointers from user space ---------------------------------------------------------
; user_range_ok: may the kernel read the ECX bytes at EBX on behalf of the current process?
; They must lie in user space, and every page must be mapped as a user page, or be one the
; process may have on demand (its heap or stack, mapped here and now - so the kernel itself
; never takes a page fault on a process's behalf). Returns CF clear if so.
user_range_ok:
        pushad
        jecxz .ok
        cmp ebx, USER_BASE
        jb .bad
        mov eax, ebx
        add eax, ecx                    ; the end; a wrap past 4 GiB is bad too
        jc .bad
        cmp eax, USER_TOP
        ja .bad
        lea esi, [eax - 1]              ; the last byte's page
        and esi, PG_FRAME
        and ebx, PG_FRAME
.page:
        mov edx, [current]
        mov edx, [edx + P_PD]
        call lookup_pte
        test eax, PG_PRESENT
        jz .demand
        test eax, PG_USER
        jz .bad
        jmp .next
.demand:
        call demand_page
        jc .bad
.next:
        add ebx, PAGE_SIZE
        cmp ebx, esi
        jbe .page
.ok:
        popad
        clc
        ret
.bad:
        popad
        stc
        ret

; ---- The calls ----------------------------------------------------------------------------------
; Each gets EBX, ECX, EDX as the process passed them and EBP = the frame; returns EAX.

sys_exit:
        call print_current
        call print
        db ' exited with code ', 0
        mov eax, ebx
        call put_sdec
        mov al, 10
        call putc
        mov eax, ebx
        jmp proc_exit

sys_write:
        cmp ebx, 1                      ; stdout
        je .fd_ok
        cmp ebx, 2                      ; stderr
        je .fd_ok
        mov eax, -EBADF
        ret
.fd_ok:
        mov esi, ecx                    ; the buffer
        mov ecx, edx                    ; its length
        mov ebx, esi
        call user_range_ok
        jc .fault
        call putn
        mov eax, ecx
        ret
.fault:
        mov eax, -EFAULT
        ret

sys_getpid:
        mov eax, [current]
        mov eax, [eax + P_PID]
        ret

sys_yield:
        call schedule
        xor eax, eax
        ret

sys_sleep:
        mov eax, [current]
        mov ecx, [ticks]
        add ecx, ebx
        mov [eax + P_WAKE], ecx
        mov dword [eax + P_STATE], P_SLEEPING
        call schedule                   ; back when the timer has woken us and our turn came
        xor eax, eax
        ret

; sys_sbrk: moves the break by EBX bytes (up or down) and returns the old break.
sys_sbrk:
        mov eax, [current]
        mov eax, [eax + P_BRK]
        push eax
        add ebx, eax
        call set_break
        pop eax
        jnc .ok
        mov eax, -ENOMEM
.ok:
        ret

; sys_brk: sets the break to EBX and returns the new break; returns the unchanged one when EBX
; is 0 (the way to ask) or cannot be the break.
sys_brk:
        test ebx, ebx
        jz .current
        call set_break
.current:
        mov eax, [current]
        mov eax, [eax + P_BRK]
        ret

; set_break: makes EBX the current process's break, if it is within [USER_HEAP, USER_HEAP_MAX).
; Growing maps nothing (the pages come on demand, faults.asm); shrinking returns the pages
; wholly above the new break. CF set if not allowed.
set_break:
        cmp ebx, USER_HEAP
        jb .bad
        cmp ebx, USER_HEAP_MAX
        ja .bad
        mov esi, [current]
        mov ecx, [esi + P_BRK]          ; the old break
        mov [esi + P_BRK], ebx
        add ebx, PAGE_SIZE - 1          ; the first page wholly above the new break
        and ebx, PG_FRAME
        mov edx, [esi + P_PD]
.unmap:
        cmp ebx, ecx
        jae .done
        call lookup_pte
        test eax, PG_PRESENT
        jz .next
        push eax
        xor eax, eax
        call pt_write                   ; EDI = the entry: now empty
        call flush_page                 ; and the TLB must forget it
        pop eax
        and eax, PG_FRAME
        call frame_free
.next:
        add ebx, PAGE_SIZE
        jmp .unmap
.done:
        clc
        ret
.bad:
        stc
        ret
