/**
 * The playground's page: the source editor, the buttons, the guest's COM1 in a terminal
 * (xterm.js: keys typed there go to the guest) and its VGA text screen, the debugger's console,
 * and panels refreshed at each stop: registers, the disassembly around CS:EIP (a click sets a
 * breakpoint), the last VM exits, an address's walk GVA -> GPA -> HVA -> HPA as a picture,
 * memory, and the modes compared. Everything that runs the machine is in the worker
 * (worker.ts); this file only shows what it sends and sends what the user does (protocol.ts).
 * The examples are the project's own guests and exercises, collected when the page was built
 * (examples.json, from tools/playground-build.ts).
 */
import { Terminal } from '@xterm/xterm';
import type { DisassemblyLine, FromWorker, GuestSources, MemoryMode, ToWorker } from './protocol.ts';

/** An example: its files, which one is assembled, and a line saying what it shows. */
interface Example extends GuestSources {
  title: string;
}

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const editor = element<HTMLTextAreaElement>('editor');
const exampleList = element<HTMLSelectElement>('example');
const modeList = element<HTMLSelectElement>('mode');
const diagnostics = element<HTMLPreElement>('diagnostics');
const registers = element<HTMLPreElement>('registers');
const consoleOutput = element<HTMLPreElement>('console');
const commandInput = element<HTMLInputElement>('command');
const status = element<HTMLSpanElement>('status');
const disassemblyPanel = element<HTMLDivElement>('disassembly');
const exitsPanel = element<HTMLPreElement>('exits');
const walkPanel = element<HTMLDivElement>('walk');
const walkAddress = element<HTMLInputElement>('walk-address');
const memoryPanel = element<HTMLPreElement>('memory');
const memoryAddress = element<HTMLInputElement>('memory-address');
const buttons = {
  boot: element<HTMLButtonElement>('boot'), continue: element<HTMLButtonElement>('continue'), step: element<HTMLButtonElement>('step'),
  stop: element<HTMLButtonElement>('stop'), compare: element<HTMLButtonElement>('compare'),
  stepBack: element<HTMLButtonElement>('step-back'), continueBack: element<HTMLButtonElement>('continue-back'),
};
const comparison = element<HTMLTableElement>('comparison');
const verdict = element<HTMLParagraphElement>('verdict');

const terminal = new Terminal({ convertEol: true, rows: 16, cols: 80, fontSize: 12 });
terminal.open(element('terminal'));
// Keys typed there go to the guest (its keyboard and COM1).
terminal.onData((text) => send({ type: 'type', text }));
/** The VGA text screen: 80 x 25, drawn again at each stop. */
const screen = new Terminal({ rows: 25, cols: 80, fontSize: 11, scrollback: 0, disableStdin: true, cursorBlink: false });
screen.open(element('screen'));

const worker = new Worker('worker.js', { type: 'module' });
const send = (message: ToWorker) => worker.postMessage(message);

let examples: Record<string, Example> = {};
/** The example being edited: the editor holds its main file. */
let current: Example | null = null;
let booted = false;

function say(text: string): void {
  consoleOutput.textContent += `${text}\n`;
  consoleOutput.scrollTop = consoleOutput.scrollHeight;
}

function showState(running: boolean, ended: boolean): void {
  buttons.continue.disabled = !booted || running || ended;
  buttons.step.disabled = !booted || running || ended;
  // Going back works from anywhere in the history, the guest's end included.
  buttons.stepBack.disabled = !booted || running;
  buttons.continueBack.disabled = !booted || running;
  buttons.stop.disabled = !running;
  buttons.compare.disabled = !booted || running;
  status.textContent = !booted ? 'ready' : running ? 'running' : ended ? 'the guest has ended' : 'stopped';
}

/** The disassembly panel: a line per instruction; a click sets or deletes a breakpoint, pointing at one walks its address. */
function showDisassembly(lines: DisassemblyLine[]): void {
  disassemblyPanel.replaceChildren(
    ...lines.map((line) => {
      const row = document.createElement('div');
      row.textContent = line.text;
      row.dataset.linear = `0x${line.linear.toString(16)}`;
      if (line.next) row.classList.add('next');
      if (line.breakpoint !== 0) row.classList.add('breakpoint');
      row.title = line.breakpoint !== 0 ? `breakpoint ${line.breakpoint}: click to delete it` : 'click: a breakpoint here';
      row.onclick = () => send({ type: 'toggleBreakpoint', linear: line.linear });
      row.onmouseenter = () => walkSoon(row.dataset.linear!);
      return row;
    }),
  );
}

/**
 * `translate`'s output as a picture: a box for each address the walk reaches (GVA, GPA, HVA,
 * HPA, or the bare machine's physical address), holding the entries it went through to the next.
 */
function showWalk(text: string): void {
  const stages: string[][] = [];
  for (const line of text.split('\n')) {
    if (/^\s*(GVA|GPA|HVA|HPA|PA|physical) /.test(line) || stages.length === 0) stages.push([]);
    stages[stages.length - 1].push(line.replace(/^ {2}/, ''));
  }
  walkPanel.replaceChildren(
    ...stages.map(([head, ...rest]) => {
      const box = document.createElement('div');
      box.className = 'stage';
      const title = document.createElement('b');
      title.textContent = head.trim();
      box.append(title, rest.length > 0 ? `\n${rest.join('\n')}` : '');
      return box;
    }),
  );
}

/** The modes compared, as a table (the first row its header). */
function showComparison(table: string[][], text: string): void {
  comparison.replaceChildren(
    ...table.map((cells, r) => {
      const row = document.createElement('tr');
      row.append(...cells.map((cell) => Object.assign(document.createElement(r === 0 ? 'th' : 'td'), { textContent: cell })));
      return row;
    }),
  );
  verdict.textContent = text;
  buttons.compare.disabled = false;
}

let walkTimer: ReturnType<typeof setTimeout> | null = null;
/** Walks an address a moment after the pointer stops on it (not for every line it crosses). */
function walkSoon(address: string): void {
  if (walkTimer !== null) clearTimeout(walkTimer);
  walkTimer = setTimeout(() => {
    walkAddress.value = address;
    send({ type: 'walk', address });
  }, 150);
}

function pick(name: string): void {
  current = examples[name];
  editor.value = current.files[current.main];
  element('file').textContent = `${current.main} (${current.title})`;
}

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'ready':
      status.textContent = 'ready';
      break;
    case 'serial':
      terminal.write(message.text);
      break;
    case 'console':
      say(message.text);
      break;
    case 'diagnostics':
      diagnostics.textContent = message.text;
      if (message.text !== '') {
        booted = false;
        showState(false, false);
        status.textContent = `did not assemble (line ${message.line})`;
      }
      break;
    case 'state':
      if (!message.running) {
        registers.textContent = message.registers;
        showDisassembly(message.disassembly);
        exitsPanel.textContent = message.exits;
        // (Home, then each row in turn: the screen's text, without its colours.)
        screen.write(`\x1b[H${message.screen.map((row) => row.padEnd(80).slice(0, 80)).join('\r\n')}`);
      }
      showState(message.running, message.ended);
      break;
    case 'walk':
      showWalk(message.text);
      break;
    case 'memory':
      memoryPanel.textContent = message.text;
      break;
    case 'comparison':
      showComparison(message.table, message.verdict);
      break;
  }
};

buttons.boot.onclick = () => {
  if (current === null) return;
  const files = { ...current.files, [current.main]: editor.value };
  terminal.reset();
  screen.reset();
  for (const panel of [consoleOutput, registers, exitsPanel, memoryPanel, verdict]) panel.textContent = '';
  comparison.replaceChildren();
  disassemblyPanel.replaceChildren();
  walkPanel.replaceChildren();
  booted = true;
  send({ type: 'boot', sources: { files, main: current.main }, mode: modeList.value as MemoryMode });
};
buttons.continue.onclick = () => send({ type: 'command', line: 'continue' });
buttons.step.onclick = () => send({ type: 'command', line: 'stepi' });
buttons.stepBack.onclick = () => send({ type: 'command', line: 'reverse-step' });
buttons.continueBack.onclick = () => send({ type: 'command', line: 'reverse-continue' });
buttons.stop.onclick = () => send({ type: 'interrupt' });
buttons.compare.onclick = () => {
  buttons.compare.disabled = true;
  comparison.replaceChildren();
  verdict.textContent = 'running the guest under each mode...';
  send({ type: 'compare' });
};
commandInput.onkeydown = (event) => {
  if (event.key !== 'Enter') return;
  const line = commandInput.value;
  commandInput.value = '';
  send({ type: 'command', line });
};
exampleList.onchange = () => pick(exampleList.value);
walkAddress.onkeydown = (event) => {
  if (event.key === 'Enter' && walkAddress.value.trim() !== '') send({ type: 'walk', address: walkAddress.value.trim() });
};
memoryAddress.onkeydown = (event) => {
  if (event.key === 'Enter' && memoryAddress.value.trim() !== '') send({ type: 'memory', address: memoryAddress.value.trim() });
};

fetch('examples.json')
  .then((response) => response.json())
  .then((list: Record<string, Example>) => {
    examples = list;
    for (const [name, example] of Object.entries(list)) {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = `${name}: ${example.title}`;
      exampleList.append(option);
    }
    pick(Object.keys(list)[0]);
  });
