/* kernel.c - a Multiboot kernel in C: it prints to COM1, counts, and ends the run through the
   exit port (minivisor run --exit-port 0xf4). Built with gcc -m32 into kernel.elf (see
   README.md), it carries its symbols and line numbers: gdb's `symbol-file kernel.elf`. */
#define COM1 0x3f8
#define EXIT_PORT 0xf4

static inline void outb(unsigned short port, unsigned char value) {
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static void print(const char *s) {
    while (*s) outb(COM1, *s++);
}

/* Watch it from gdb: watch ticks */
volatile unsigned ticks;

static unsigned fib(unsigned n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

void kmain(unsigned magic, void *info) {
    (void)info;
    print(magic == 0x2BADB002 ? "c-kernel: booted by a Multiboot loader\n" : "c-kernel: no Multiboot magic\n");
    for (ticks = 0; ticks < 10; ticks++) fib(ticks);
    print("c-kernel: fib(20) = ");
    unsigned f = fib(20), div = 1000000;
    while (div > f && div > 1) div /= 10;
    for (; div > 0; div /= 10) outb(COM1, '0' + (f / div) % 10);
    print("\n");
    outb(EXIT_PORT, 0); /* exit status 1 */
}
