/** Minimal POSIX-style path helpers, so the assembler has no Node dependency (it runs in browsers). */

export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : path.slice(0, i);
}

export function joinPath(dir: string, name: string): string {
  if (name.startsWith('/') || dir === '' || dir === '.') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}
