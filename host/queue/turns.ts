/**
 * Turns at a host's runtime children: a sync slot takes one before it claims a job and its run
 * gives it back once it no longer needs a child (its script has run), before it settles. So a
 * claimed job always has a child free to start on at once (no run waits for a child after its
 * run row says it started, and a killed host strands no job it had not started), while the
 * settling of one run (its outcome, its queue job: a few round trips and WAL flushes) overlaps
 * the start of the next.
 */
export interface Turns {
  /** Resolves with the function that gives the turn back (once; later calls do nothing). */
  take(): Promise<() => void>;
  /** Turns held now. */
  held(): number;
}

export function createTurns(count: number): Turns {
  let held = 0;
  const waiting: Array<() => void> = [];

  function grant(): () => void {
    held++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      held--;
      const next = waiting.shift();
      if (next) next();
    };
  }

  return {
    take() {
      if (held < count) return Promise.resolve(grant());
      return new Promise((resolve) => waiting.push(() => resolve(grant())));
    },
    held: () => held,
  };
}
