/**
 * The host side of one run's bridge: what a script's batchSave, proxy calls, logs, metadata
 * and checkpoints do. Built per run so nothing of one run is reachable from another.
 */
import type { BatchResult, HostBridge, LogEntry, RecordBatch } from '../../runtime/contract.ts';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { ConnectionRow, Connections, Credentials } from '../connections/connections.ts';
import type { Provider } from '../connections/providers.ts';
import type { Logger } from '../logger.ts';
import type { Proxy, ProxyCallRecord } from '../proxy/proxy.ts';
import type { Runs } from '../runs/runs.ts';
import type { SyncState } from '../sync/sync-state.ts';

/** The record store as the bridge needs it (host/store implements it). */
export interface RecordWriter {
  saveBatch(args: { connectionId: string; model: string; batch: RecordBatch; runId?: string }, tx?: TransactionSql): Promise<BatchResult>;
}

export interface RunBridgeDeps {
  sql: Sql;
  records: RecordWriter;
  runs: Runs;
  connections: Connections;
  syncState: SyncState;
  proxy: Proxy;
  logger: Logger;
}

export interface RunBridgeScope {
  runId: string;
  connection: ConnectionRow;
  provider: Provider;
  /** Ignored: the proxy reads (and refreshes) the connection's credentials itself on each call. */
  credentials?: Credentials;
  /** Models the script declared; saving any other is refused. Empty for actions that may not write. */
  models: readonly string[];
  syncName: string | null;
}

export interface RunBridge extends HostBridge {
  /** Resolves when every log line received so far is stored. */
  flush(): Promise<void>;
  readonly calls: ProxyCallRecord[];
}

export function createRunBridge(deps: RunBridgeDeps, scope: RunBridgeScope): RunBridge {
  let logSeq = 0;
  let logWrites: Promise<void> = Promise.resolve();
  const calls: ProxyCallRecord[] = [];
  const target = { provider: scope.provider, connection: scope.connection };

  return {
    calls,
    async saveRecords(batch) {
      if (!scope.models.includes(batch.model)) {
        throw new Error(`unknown model "${batch.model}": this script declares ${scope.models.map((m) => `"${m}"`).join(', ') || 'no models'}`);
      }
      // Records and the run's counts commit together, so counts always match what is stored.
      return deps.sql.begin(async (tx) => {
        const result = await deps.records.saveBatch({ connectionId: scope.connection.id, model: batch.model, batch, runId: scope.runId }, tx);
        await tx`
          update runs set added = added + ${result.added}, updated = updated + ${result.updated},
            unchanged = unchanged + ${result.unchanged}, deleted = deleted + ${result.deleted},
            rejected = rejected + ${result.rejected}, heartbeat_at = now()
          where id = ${scope.runId}`;
        return result;
      });
    },

    proxy: (request) => deps.proxy.request(target, request, { runId: scope.runId, onCall: (call) => calls.push(call) }),

    log(entries: LogEntry[]) {
      const first = logSeq;
      logSeq += entries.length;
      logWrites = logWrites
        .then(() => deps.runs.appendLogs(scope.runId, first, entries))
        .catch((err) => deps.logger.error({ err, runId: scope.runId }, 'storing run logs failed'));
    },

    flush: () => logWrites,

    async getMetadata() {
      const row = await deps.connections.getById(scope.connection.id);
      return row?.metadata ?? {};
    },

    setMetadata: (metadata, merge) => deps.connections.setMetadata(scope.connection.id, metadata, merge),

    async saveCheckpoint(checkpoint) {
      if (!scope.syncName) throw new Error('checkpoints belong to syncs; an action has none');
      await deps.syncState.saveCheckpoint(scope.connection.id, scope.syncName, checkpoint);
    },
  };
}
