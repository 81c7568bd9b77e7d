/**
 * Which of a checkout's scripts `npm run corpus` runs under its `--max`: round-robin over
 * providers (syncs and actions alternating), so many providers are covered rather than many
 * scripts of one. A script is its provider and name: `github/issues` and `gitlab/issues` are two
 * scripts, both run (the host deploys them side by side; each connection's provider picks its own).
 */
import type { FoundScript } from './cases.ts';

export const scriptKey = (c: Pick<FoundScript, 'provider' | 'name'>) => `${c.provider}/${c.name}`;

export function pickScripts(found: FoundScript[], max: number): FoundScript[] {
  const perProvider = new Map<string, FoundScript[]>();
  for (const c of found) perProvider.set(c.provider, [...(perProvider.get(c.provider) ?? []), c]);
  const queues = [...perProvider.values()].map((list) => {
    const syncs = list.filter((c) => c.kind === 'sync');
    const actions = list.filter((c) => c.kind === 'action');
    const mixed: FoundScript[] = [];
    while (syncs.length + actions.length > 0) mixed.push(...[syncs.shift(), actions.shift()].filter((c): c is FoundScript => c !== undefined));
    return mixed;
  });
  const chosen: FoundScript[] = [];
  const keys = new Set<string>();
  while (chosen.length < max && queues.some((q) => q.length > 0)) {
    for (const queue of queues) {
      const next = queue.shift();
      if (!next || keys.has(scriptKey(next)) || chosen.length >= max) continue;
      keys.add(scriptKey(next));
      chosen.push(next);
    }
  }
  return chosen;
}
