/**
 * The playground's page: the source editor, the buttons, the guest's COM1 in a terminal
 * (xterm.js), the registers at each stop and the debugger's console. Everything that runs the
 * machine is in the worker (worker.ts); this file only shows what it sends and sends what the
 * user does (protocol.ts). The examples are the project's own guests, collected when the page
 * was built (examples.json, from tools/playground.ts).
 */
import { Terminal } from '@xterm/xterm';
import type { FromWorker, GuestSources, MemoryMode, ToWorker } from './protocol.ts';

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
const buttons = { boot: element<HTMLButtonElement>('boot'), continue: element<HTMLButtonElement>('continue'), step: element<HTMLButtonElement>('step'), stop: element<HTMLButtonElement>('stop') };

const terminal = new Terminal({ convertEol: true, rows: 16, cols: 80, fontSize: 13 });
terminal.open(element('terminal'));

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
  buttons.stop.disabled = !running;
  status.textContent = !booted ? 'ready' : running ? 'running' : ended ? 'the guest has ended' : 'stopped';
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
      if (!message.running) registers.textContent = message.registers;
      showState(message.running, message.ended);
      break;
  }
};

buttons.boot.onclick = () => {
  if (current === null) return;
  const files = { ...current.files, [current.main]: editor.value };
  terminal.reset();
  consoleOutput.textContent = '';
  registers.textContent = '';
  booted = true;
  send({ type: 'boot', sources: { files, main: current.main }, mode: modeList.value as MemoryMode });
};
buttons.continue.onclick = () => send({ type: 'command', line: 'continue' });
buttons.step.onclick = () => send({ type: 'command', line: 'stepi' });
buttons.stop.onclick = () => send({ type: 'interrupt' });
commandInput.onkeydown = (event) => {
  if (event.key !== 'Enter') return;
  const line = commandInput.value;
  commandInput.value = '';
  send({ type: 'command', line });
};
exampleList.onchange = () => pick(exampleList.value);

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
