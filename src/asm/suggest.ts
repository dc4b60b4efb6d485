/** "Did you mean ...?" for misspelt instructions: the nearest known word by edit distance. */

/**
 * Edit distance counting a swap of two neighbouring letters as one edit (optimal string
 * alignment): "mvo" is one typo away from "mov", as a person sees it.
 */
export function editDistance(a: string, b: string): number {
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(0);
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current[j] = d;
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/** The candidate closest to `word`, if it is within `maxDistance` edits (default: 2, or 1 for short words). */
export function closest(word: string, candidates: string[], maxDistance?: number): string | undefined {
  const limit = maxDistance ?? (word.length <= 3 ? 1 : 2);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
