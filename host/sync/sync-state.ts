/** Per (connection, sync) state: schedule, pause flag, lastSyncDate and checkpoint. */
import type { Sql, TransactionSql } from '../db/connect.ts';

export interface SyncStateRow {
  connection_id: string;
  sync_name: string;
  frequency_ms: string;
  next_run_at: Date;
  paused: boolean;
  last_sync_date: Date | null;
  checkpoint: Record<string, unknown> | null;
}

export interface DueSync {
  connection_id: string;
  sync_name: string;
}

export function createSyncState(sql: Sql) {
  return {
    async get(connectionId: string, syncName: string): Promise<SyncStateRow | null> {
      const [row] = await sql<SyncStateRow[]>`select * from sync_state where connection_id = ${connectionId} and sync_name = ${syncName}`;
      return row ?? null;
    },

    /**
     * Makes every connection of `provider` in the environment carry this sync. A new pair is due
     * now (its first run starts at once) unless the sync does not auto-start; a changed
     * frequency applies from the next tick, without a restart.
     */
    async ensureForSync(tx: Sql | TransactionSql, q: { environmentId: string; provider: string; syncName: string; frequencyMs: number; autoStart: boolean }): Promise<void> {
      await tx`
        insert into sync_state (connection_id, sync_name, frequency_ms, next_run_at, paused)
        select c.id, ${q.syncName}, ${q.frequencyMs}, now(), ${!q.autoStart}
        from connections c where c.environment_id = ${q.environmentId} and c.provider = ${q.provider}
        on conflict (connection_id, sync_name) do update
          set frequency_ms = excluded.frequency_ms,
              next_run_at = least(sync_state.next_run_at, now() + excluded.frequency_ms * interval '1 millisecond')`;
    },

    /** A new connection gets every active sync of its provider, due now. */
    async ensureForConnection(tx: Sql | TransactionSql, q: { environmentId: string; connectionId: string; provider: string }): Promise<void> {
      await tx`
        insert into sync_state (connection_id, sync_name, frequency_ms, next_run_at, paused)
        select ${q.connectionId}, s.name, (s.manifest->>'frequencyMs')::bigint, now(), not coalesce((s.manifest->>'autoStart')::boolean, true)
        from scripts s
        where s.environment_id = ${q.environmentId} and s.provider = ${q.provider} and s.kind = 'sync' and s.active
        on conflict (connection_id, sync_name) do nothing`;
    },

    async removeSync(tx: Sql | TransactionSql, environmentId: string, syncName: string): Promise<void> {
      await tx`
        delete from sync_state s using connections c
        where s.connection_id = c.id and c.environment_id = ${environmentId} and s.sync_name = ${syncName}`;
    },

    /** Called in the transaction that finishes a successful run: the only place lastSyncDate moves. */
    async recordSuccess(tx: TransactionSql, connectionId: string, syncName: string, runStartedAt: Date): Promise<void> {
      await tx`
        update sync_state set last_sync_date = ${runStartedAt}, checkpoint = null
        where connection_id = ${connectionId} and sync_name = ${syncName}`;
    },

    async saveCheckpoint(connectionId: string, syncName: string, checkpoint: Record<string, unknown> | null): Promise<void> {
      await sql`
        update sync_state set checkpoint = ${checkpoint === null ? null : JSON.stringify(checkpoint)}::text::jsonb
        where connection_id = ${connectionId} and sync_name = ${syncName}`;
    },

    async setPaused(connectionId: string, syncName: string, paused: boolean): Promise<boolean> {
      const rows = await sql`update sync_state set paused = ${paused} where connection_id = ${connectionId} and sync_name = ${syncName}`;
      return rows.count > 0;
    },

    /**
     * Claims the pairs that are due and moves their next_run_at one period on, in the caller's
     * transaction (so the enqueue that follows commits with it). SKIP LOCKED lets several
     * workers tick at once without claiming a pair twice.
     */
    async claimDue(tx: TransactionSql, limit: number): Promise<DueSync[]> {
      return tx<DueSync[]>`
        with due as (
          select connection_id, sync_name from sync_state
          where not paused and next_run_at <= now()
          order by next_run_at limit ${limit}
          for update skip locked
        )
        update sync_state s
          set next_run_at = greatest(s.next_run_at + s.frequency_ms * interval '1 millisecond', now())
        from due where s.connection_id = due.connection_id and s.sync_name = due.sync_name
        returning s.connection_id, s.sync_name`;
    },
  };
}
export type SyncState = ReturnType<typeof createSyncState>;
