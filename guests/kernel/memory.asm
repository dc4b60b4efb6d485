; memory.asm - physical memory: the E820 map the boot sector collected, and the frame
; allocator that hands out 4 KiB frames of RAM to the rest of the kernel.
;
; The allocator is a bitmap, one bit per frame of the first DIRECT_MAP_END bytes of physical
; memory: bit set = the frame is free. It manages the usable (type 1) E820 ranges from 1 MiB up;
; the first MiB holds the kernel itself and the BIOS's leftovers, and is never handed out.
; A frame's physical address is also its kernel virtual address (the kernel maps physical
; memory at the same addresses, paging.asm), so the kernel can zero and fill any frame it
; allocates, before and after paging is turned on.

MANAGED_START   equ 0x100000
FRAMES_MAX      equ DIRECT_MAP_END / PAGE_SIZE

; print_e820: prints the memory map: base, end (exclusive) and type of each range.
print_e820:
        push eax
        push ecx
        push esi
        call print
        db 'E820 memory map (from the BIOS, in real mode):', 10, 0
        mov ecx, [BOOT_INFO]
        mov esi, E820_ENTRIES
        jecxz .done
.entry:
        call print
        db '  ', 0
        mov eax, [esi]                  ; base: 64 bits, printed high half first
        push eax
        mov eax, [esi + 4]
        call put_hex
        pop eax
        call put_hex_digits
        call print
        db ' - ', 0
        mov eax, [esi]                  ; end = base + length, 64-bit addition
        add eax, [esi + 8]
        push eax
        mov eax, [esi + 4]
        adc eax, [esi + 12]
        call put_hex
        pop eax
        call put_hex_digits
        mov eax, [esi + 16]
        cmp eax, 1
        jne .other
        call print
        db '  usable', 10, 0
        jmp .next
.other:
        call print
        db '  reserved (type ', 0
        call put_dec
        call print
        db ')', 10, 0
.next:
        add esi, E820_ENTRY_SIZE
        loop .entry
.done:
        pop esi
        pop ecx
        pop eax
        ret

; frames_init: marks every frame of the usable ranges (clipped to [MANAGED_START,
; DIRECT_MAP_END), whole frames only) free. Sets frames_total and frames_free, and
; memory_top: the end of the highest usable frame, which the kernel's page tables must cover.
frames_init:
        pushad
        mov ecx, [BOOT_INFO]
        mov esi, E820_ENTRIES
        test ecx, ecx
        jz .done
.entry:
        cmp dword [esi + 16], 1         ; usable RAM only
        jne .next
        cmp dword [esi + 4], 0          ; starts at or above 4 GiB: out of reach
        jne .next
        mov eax, [esi]                  ; EAX = start
        mov edx, [esi]                  ; EDX = end = start + length, clipped to 4 GiB
        add edx, [esi + 8]
        jc .clip4g
        cmp dword [esi + 12], 0
        je .clipped
.clip4g:
        mov edx, 0xFFFFFFFF
.clipped:
        cmp eax, MANAGED_START          ; clip to the managed window
        jae .low_ok
        mov eax, MANAGED_START
.low_ok:
        cmp edx, DIRECT_MAP_END
        jbe .high_ok
        mov edx, DIRECT_MAP_END
.high_ok:
        add eax, PAGE_SIZE - 1          ; whole frames only: round the start up,
        and eax, PG_FRAME
        and edx, PG_FRAME               ; the end down
.frame:
        cmp eax, edx
        jae .next
        mov ebx, eax
        shr ebx, 12                     ; frame number
        bts [frame_bitmap], ebx         ; free (BTS with a register index reaches past 32 bits)
        jc .already                     ; overlapping ranges: count a frame once
        inc dword [frames_total]
        inc dword [frames_free]
.already:
        add eax, PAGE_SIZE
        cmp eax, [memory_top]
        jbe .frame
        mov [memory_top], eax
        jmp .frame
.next:
        add esi, E820_ENTRY_SIZE
        loop .entry
.done:
        popad
        ret

; frame_alloc: returns in EAX the physical address of a free frame, zero-filled, or 0 when
; memory is exhausted. Next-fit: the search starts where the last one ended.
frame_alloc:
        push ecx
        push edi
        mov ecx, FRAMES_MAX / 32        ; dwords in the bitmap, each tried at most once
        mov edi, [frame_hint]
.scan:
        mov eax, [frame_bitmap + edi * 4]
        test eax, eax
        jnz .found
        inc edi
        cmp edi, FRAMES_MAX / 32
        jb .same
        xor edi, edi                    ; wrap round
.same:
        loop .scan
        xor eax, eax                    ; nothing free
        jmp .out
.found:
        mov [frame_hint], edi
        bsf ecx, eax                    ; the lowest free frame in this dword
        btr [frame_bitmap + edi * 4], ecx
        shl edi, 5
        add edi, ecx
        shl edi, 12
        dec dword [frames_free]
        mov eax, edi                    ; zero it: nobody should see the previous owner's data
        push eax
        mov ecx, PAGE_SIZE / 4
        xor eax, eax
        cld
        rep stosd
        pop eax
.out:
        pop edi
        pop ecx
        ret

; frame_free: gives the frame at physical address EAX back.
frame_free:
        push eax
        shr eax, 12
        bts [frame_bitmap], eax
        jc .double
        inc dword [frames_free]
        pop eax
        ret
.double:
        pop eax
        call print
        db 'kernel: frame freed twice: ', 0
        call put_hex
        jmp panic
