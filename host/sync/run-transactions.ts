/**
 * The database client as one run's host work sees it: transactions that can be cut short. A run
 * that ended (its wall time, an abort, a failure) must not keep a slot and a transaction open,
 * e.g. a batch waiting on a record lock: `abort` cancels the statement each open transaction is
 * running (pg_cancel_backend; the transaction then rolls back) and refuses every statement and
 * transaction after it. A transaction's connection is reserved for it until its callback ends,
 * and only then released, so a cancel sent while the callback runs reaches this run's statement.
 */
import type { Sql, TransactionSql } from '../db/connect.ts';

export interface RunTransactions {
  /** `sql` whose `begin` opens cancellable transactions; everything else is the plain client. */
  readonly sql: Sql;
  abort(reason: Error): void;
}

export function createRunTransactions(sql: Sql): RunTransactions {
  let aborted: Error | null = null;
  /** The backend pid of each open transaction. */
  const open = new Set<Promise<number>>();
  const refuseIfAborted = () => {
    if (aborted) throw aborted;
  };

  function guard(tx: TransactionSql): TransactionSql {
    return new Proxy(tx, {
      apply: (target, self, args) => (refuseIfAborted(), Reflect.apply(target, self, args)),
      get: (target, key) => {
        const value = Reflect.get(target, key) as unknown;
        if (key !== 'unsafe' || typeof value !== 'function') return value;
        return (...args: unknown[]) => (refuseIfAborted(), (value as (...a: unknown[]) => unknown)(...args));
      },
    });
  }

  const begin = <T>(fn: (tx: TransactionSql) => Promise<T>): Promise<T> => {
    if (aborted) return Promise.reject(aborted);
    return sql.begin(async (tx) => {
      // Pipelined ahead of the callback's first statement: no extra round trip.
      const pid = tx<{ pid: number }[]>`select pg_backend_pid() as pid`.then(([row]) => row!.pid);
      pid.catch(() => {});
      open.add(pid);
      try {
        return await fn(guard(tx));
      } finally {
        open.delete(pid);
      }
    }) as Promise<T>;
  };

  return {
    sql: new Proxy(sql, { get: (target, key) => (key === 'begin' ? begin : Reflect.get(target, key)) }),
    abort(reason) {
      aborted ??= reason;
      for (const pid of open) {
        // Between statements this cancels nothing, and the next statement is refused instead.
        void pid.then((backend) => (open.has(pid) ? sql`select pg_cancel_backend(${backend})` : null)).catch(() => {});
      }
    },
  };
}
