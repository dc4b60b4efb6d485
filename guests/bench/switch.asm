; switch.asm - the context-switch benchmark guest (minivisor's): NPROC address spaces, switched
; round robin ITERS times, each switch touching PAGES pages of the address space it enters, as a
; scheduler running processes does. What it measures is what a CR3 load costs the VMM: under EPT
; a TLB flush; under shadow paging a shadow-table cache hit, or without the cache a shadow built
; again from the guest's tables.
; Serial (COM1): 'S' before the loop, "E" + 8 hex digits of the checksum + "\n" after, then
; OUT to the exit port 0xF4.
%ifndef ITERS
%define ITERS 10000
%endif
%ifndef NPROC
%define NPROC 4
%endif
%ifndef PAGES
%define PAGES 16
%endif
%define DIRS 0x100000           ; the page directories, one per process, 4 KiB apart
%define KERNEL_PT 0x120000      ; the kernel's page table: the first 4 MiB, one to one
%define USER_PTS 0x121000       ; one page table per process for GVA 4-8 MiB
%define FRAMES 0x200000         ; each process's PAGES frames, PAGES*4 KiB apart
        bits 16
        org 0x7c00
start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        in al, 0x92             ; fast A20
        or al, 2
        out 0x92, al
        lgdt [gdt_desc]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp 0x08:pm32

        bits 32
pm32:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x90000
        ; The kernel's page table: the first 4 MiB, one to one, supervisor.
        mov edi, KERNEL_PT
        mov eax, 3
.kernel:
        stosd
        add eax, 0x1000
        cmp edi, KERNEL_PT + 0x1000
        jne .kernel
        ; Each process: a directory with the kernel's table at 0 and its own table at 1, which
        ; maps PAGES frames of its own (each holding the process's number) at GVA 4 MiB.
        xor ebp, ebp
.process:
        mov edi, ebp
        shl edi, 12
        add edi, DIRS
        mov ecx, 1024
        xor eax, eax
        push edi
        rep stosd
        pop edi
        mov dword [edi], KERNEL_PT | 3
        mov eax, ebp
        shl eax, 12
        add eax, USER_PTS
        lea ebx, [eax + 3]
        mov [edi + 4], ebx
        mov edi, eax                    ; the process's table
        mov ecx, 1024
        xor eax, eax
        push edi
        rep stosd
        pop edi
        mov eax, ebp
        imul eax, PAGES * 0x1000
        add eax, FRAMES | 7
        xor ecx, ecx
.page:
        mov [edi + ecx*4], eax
        lea edx, [eax - 7]
        mov [edx], ebp                  ; the frame holds the process's number
        add eax, 0x1000
        inc ecx
        cmp ecx, PAGES
        jne .page
        inc ebp
        cmp ebp, NPROC
        jne .process
        mov eax, DIRS
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        ; COM1: 115200 8N1
        mov dx, 0x3fb
        mov al, 0x80
        out dx, al
        mov dx, 0x3f8
        mov al, 1
        out dx, al
        inc dx
        xor al, al
        out dx, al
        mov dx, 0x3fb
        mov al, 0x03
        out dx, al
        mov al, 'S'
        call putc

        xor esi, esi                    ; the checksum
        mov ecx, ITERS
.round:
        xor ebp, ebp
.switch:
        mov eax, ebp                    ; the next process's address space
        shl eax, 12
        add eax, DIRS
        mov cr3, eax
        mov ebx, 0x400000
.touch:
        add esi, [ebx]
        add ebx, 0x1000
        cmp ebx, 0x400000 + PAGES * 0x1000
        jne .touch
        inc ebp
        cmp ebp, NPROC
        jne .switch
        dec ecx
        jnz .round

        mov ebx, esi
        mov al, 'E'
        call putc
        mov ecx, 8
.hex:   rol ebx, 4
        mov al, bl
        and al, 0x0f
        add al, '0'
        cmp al, '9'
        jbe .d
        add al, 7
.d:     call putc
        loop .hex
        mov al, 10
        call putc
        mov dx, 0xf4
        xor eax, eax
        out dx, eax
.halt:  cli
        hlt
        jmp .halt

putc:   ; AL = byte; wait for THRE on COM1, then write
        push eax
        mov dx, 0x3fd
.w:     in al, dx
        test al, 0x20
        jz .w
        pop eax
        mov dx, 0x3f8
        out dx, al
        ret

        align 8
gdt:    dq 0
        dq 0x00cf9a000000ffff
        dq 0x00cf92000000ffff
gdt_desc:
        dw gdt_desc - gdt - 1
        dd gdt

        times 510-($-$$) db 0
        dw 0xaa55
