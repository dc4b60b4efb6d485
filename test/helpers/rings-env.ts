/**
 * A protected-mode environment for privilege tests, in assembly: a GDT with ring-0 and ring-3
 * code and data (0x08, 0x10, 0x1B, 0x23), a 32-bit TSS (0x28) whose ESP0 is 0x70000 and whose
 * I/O bitmap allows every port but 0x60, a call gate (0x33, DPL 3, two parameters) to
 * `gate_target`; an IDT where every exception goes to a handler that records what the CPU
 * pushed, and `int 0x80` (DPL 3) to `syscall`. The guest's `user:` code runs in ring 3 after
 * `enter_user` (DS and ES ring-3 data; `enter_user_keep_ds` leaves them as they are). Handlers
 * load the kernel's DS first, as kernels do. Records (dwords): 0x600 vector, 0x604 error code (or -1), 0x608 saved EIP,
 * 0x60C saved CS, 0x610 saved EFLAGS, 0x614 saved ESP, 0x618 saved SS, 0x61C the handler's ESP.
 */
import { ENTER_FLAT_PM } from './run-asm.ts';

export const RING3_ENV = `${ENTER_FLAT_PM}
    lgdt [gdt_full_desc]
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    ; TSS descriptor: base tss, limit tss_end - tss - 1, type 9, present
    mov eax, tss
    mov [gdt_tss + 2], ax
    shr eax, 16
    mov [gdt_tss + 4], al
    mov [gdt_tss + 7], ah
    mov word [tss + 4], 0                 ; ESP0 low (set below)
    mov dword [tss + 4], 0x70000          ; ESP0
    mov dword [tss + 8], 0x10             ; SS0
    mov word [tss + 0x66], tss_iomap - tss
    mov byte [tss_iomap + 0x60 / 8], 1    ; port 0x60 denied
    mov ax, 0x28
    ltr ax
    ; call gate 0x30: target 0x08:gate_target, 2 parameters, DPL 3
    mov eax, gate_target
    mov [gdt_gate], ax
    mov word [gdt_gate + 2], 0x08
    mov byte [gdt_gate + 4], 2
    mov byte [gdt_gate + 5], 0xec
    shr eax, 16
    mov [gdt_gate + 6], ax
    ; IDT: exceptions 0-31 to stubs that record, int 0x80 to syscall (DPL 3)
    mov edi, idt
    mov ebx, stubs
    mov ecx, 32
.idt_fill:
    mov eax, ebx
    mov [edi], ax
    mov word [edi + 2], 0x08
    mov word [edi + 4], 0x8e00
    shr eax, 16
    mov [edi + 6], ax
    add edi, 8
    add ebx, 16
    loop .idt_fill
    mov eax, syscall
    mov [idt + 0x80 * 8], ax
    mov word [idt + 0x80 * 8 + 2], 0x08
    mov word [idt + 0x80 * 8 + 4], 0xee00  ; interrupt gate, DPL 3
    shr eax, 16
    mov [idt + 0x80 * 8 + 6], ax
    lidt [idt_desc]
    jmp after_env

; Exception stubs: 16 bytes each; those without an error code push -1 to line the frame up.
align 16
stubs:
%assign v 0
%rep 32
  %if v == 8 || (v >= 10 && v <= 14) || v == 17
    push dword v
    jmp near record
  %else
    push dword -1
    push dword v
    jmp near record
  %endif
  align 16
%assign v v+1
%endrep
record:
    ; The interrupted code's DS may be null or an outer ring's: load the kernel's, as a kernel does.
    mov ax, 0x10
    mov ds, ax
    pop eax
    mov [0x600], al
    mov eax, [esp]
    mov [0x604], eax
    mov eax, [esp + 4]
    mov [0x608], eax
    mov eax, [esp + 8]
    mov [0x60c], eax
    mov eax, [esp + 12]
    mov [0x610], eax
    mov eax, [esp + 16]
    mov [0x614], eax
    mov eax, [esp + 20]
    mov [0x618], eax
    mov [0x61c], esp
    hlt

; Enter ring 3 at user: with the user stack at 0x80000 and DS/ES = the ring-3 data segment.
enter_user:
    mov ax, 0x23
    mov ds, ax
    mov es, ax
enter_user_keep_ds:
    push dword 0x23
    push dword 0x80000
    pushfd
    push dword 0x1b
    push dword user
    iretd

align 8
gdt_full:
    dq 0
    dq 0x00cf9a000000ffff   ; 0x08 ring-0 code
    dq 0x00cf92000000ffff   ; 0x10 ring-0 data
    dq 0x00cffa000000ffff   ; 0x18 ring-3 code
    dq 0x00cff2000000ffff   ; 0x20 ring-3 data
gdt_tss:
    dw 0x2067, 0            ; 0x28 TSS (limit: 0x67 + I/O bitmap)
    db 0, 0x89, 0, 0
gdt_gate:
    dq 0                    ; 0x30 call gate (filled in)
gdt_full_desc:
    dw gdt_full_desc - gdt_full - 1
    dd gdt_full
idt_desc:
    dw 256 * 8 - 1
    dd idt
align 16
tss:
    times 0x68 db 0
tss_iomap:
    times 0x2000 db 0
    db 0xff
tss_end:
align 8
idt:
    times 256 * 8 db 0
after_env:
`;

/**
 * A GDT for tests that need descriptors of their own: RING3_ENV's code and data segments
 * (0x08-0x23), nothing at 0x28-0x38, then `descriptors` (quadwords) from selector 0x40. Load it
 * with `lgdt [gdt3_desc]`.
 */
export function gdtWith(descriptors: string[]): string {
  return `
    align 8
    gdt3:
      dq 0
      dq 0x00cf9a000000ffff
      dq 0x00cf92000000ffff
      dq 0x00cffa000000ffff
      dq 0x00cff2000000ffff
      dq 0, 0, 0
      ${descriptors.map((d) => `dq ${d}`).join('\n      ')}
    gdt3_desc:
      dw gdt3_desc - gdt3 - 1
      dd gdt3`;
}
