; kernel-pv.asm - the toy kernel (guests/kernel) for minivisor's paravirtual paging, and the one
; file to assemble:
;
;     npx minivisor run guests/kernel-pv/kernel-pv.asm --mode pv --exit-port 0xf4
;
; It is guests/kernel/kernel.asm and the files it includes, assembled with PV defined: the
; %ifdef PV parts of paging.asm (and kernel.asm's variables) replace what differs when the page
; tables hold machine frames and change only through hypercalls, and pv.asm (here) holds those
; hypercalls. README.md says what differs and why.

%define PV
%include "../kernel/kernel.asm"
