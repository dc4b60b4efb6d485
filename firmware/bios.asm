; bios.asm - minivisor's BIOS: the first code a minivisor PC runs.
;
; What a PC BIOS does, in the order this one does it:
;
;   1. The CPU comes out of reset in real mode at F000:FFF0, 16 bytes below the end of this
;      ROM (the reset vector, at the bottom of this file). A far jump there goes to POST.
;   2. POST (power-on self test, post.asm) builds what DOS-era software expects to find:
;      the interrupt vector table at 0000:0000, the BIOS data area at 0040:0000, the extended
;      BIOS data area at 9FC0:0000; it programs the interrupt controllers, the timer and the
;      serial port, clears the screen and prints a banner.
;   3. It boots (boot.asm): it reads sector 0 of the boot drive to 0000:7C00 and jumps there.
;      From then on the BIOS is a library of services reached with INT n:
;
;        INT 08h  timer tick (IRQ 0)         timer.asm     INT 13h  disks            disk.asm
;        INT 09h  keyboard (IRQ 1)           keyboard.asm  INT 15h  system, memory   system.asm
;        INT 10h  video                      video.asm     INT 16h  keyboard         keyboard.asm
;        INT 11h  equipment list             system.asm    INT 19h  boot             boot.asm
;        INT 12h  conventional memory size   system.asm    INT 1Ah  time of day      timer.asm
;
; A real BIOS probes the hardware to learn how much memory and which disks there are. A
; virtual machine's BIOS can simply ask: minivisor describes itself through the firmware
; configuration ports (fw_cfg, docs/firmware-interface.md), and its disks are paravirtual -
; one OUT hands the disk a request block and the data is there when the OUT returns.
;
; The image is exactly 64 KiB, assembled at offset 0: a label's value is its offset in
; segment F000h, and every service runs with CS = F000h.

        bits 16
        cpu 386                 ; the services use 32-bit registers (E820 needs them)
        org 0

%include "bda.inc"

; The ROM starts with its own name, for anyone who dumps F000:0000.
rom_start:
        db 'minivisor BIOS', 0

%include "post.asm"
%include "fwcfg.asm"
%include "serial.asm"
%include "video.asm"
%include "disk.asm"
%include "system.asm"
%include "keyboard.asm"
%include "timer.asm"
%include "boot.asm"
%include "tables.asm"

rom_code_end:

; ---------------------------------------------------------------------------------------------
; The last 16 bytes of the ROM. At reset CS has selector F000h but base FFFF0000h, and IP is
; FFF0h: the CPU fetches its first instruction from physical FFFFFFF0h, where this ROM is
; aliased. The far jump loads CS properly (base F0000h) and the CPU runs from the copy below
; 1 MiB from then on.
; ---------------------------------------------------------------------------------------------
        times 0xFFF0 - ($ - $$) db 0xFF
reset_vector:
        jmp 0xF000:post
        db '01/01/25'           ; F000:FFF5: the BIOS date, where old software looks for it
        db 0                    ; F000:FFFD
        db 0xFC                 ; F000:FFFE: the model byte (FCh: an AT)
        db 0                    ; F000:FFFF
