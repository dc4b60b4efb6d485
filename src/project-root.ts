/** The minivisor checkout's root, found from this module's location (works from src/ and from the bundle cache). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function projectRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'minivisor') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the minivisor project root');
    dir = parent;
  }
}
