; disk.asm - the data disk kernel-smp's IDE driver reads (give it with --hda): sector 0 is
; empty, sector 1 holds a line of text.
        times 512 db 0
        db 'hello from sector 1 of the IDE disk', 10
        times 1024 - ($ - $$) db 0
