/**
 * Imported first by the command line and the benchmark: V8 settings for running guests.
 *
 * V8 inlines what a hot function calls up to a budget of bytecode: 920 bytes by default, 4,000
 * here. Neither the interpreter's block loop (src/cpu/interpreter.ts) nor compiled code (src/jit)
 * needs more any longer (DESIGN §9: they are written so that what they run fits), and a browser,
 * which cannot set it, runs them as fast. The larger budget lets V8 inline the rest (the rarer
 * forms' semantics): the interpreter runs the MEMOP and BRANCH loops some 5% faster with it,
 * compiled code as fast.
 * It applies to what V8 optimizes from now on, so it is set before any guest runs.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--max-inlined-bytecode-size-cumulative=4000');
