/** "Did you mean": the known name closest to a mistyped one, by edit distance, when it is close enough to be a typo. */

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

export function closestName(typed: string, known: readonly string[]): string | null {
  const lower = typed.toLowerCase();
  let best: { name: string; distance: number } | null = null;
  for (const name of known) {
    // A prefix ("dep" for deploy) counts as close as a single typo.
    const distance = name.startsWith(lower) && lower.length >= 2 ? 1 : editDistance(lower, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  // At most a third of the word wrong (and at least one letter): further off is not a typo.
  return best && best.distance <= Math.max(1, Math.floor(best.name.length / 3)) ? best.name : null;
}
