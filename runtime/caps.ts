/**
 * Size caps for everything that crosses the isolate boundary. A call over its cap fails alone
 * with PAYLOAD_TOO_LARGE (or OUTPUT_SIZE for an action's output); log lines are truncated rather
 * than failing the script, and logs past the per-run cap are dropped with one warning.
 */
const MiB = 1024 * 1024;

export const CAPS = {
  /** One batchSave/batchUpdate/batchDelete call, as JSON text. */
  batchBytes: 16 * MiB,
  /** One record's JSON text. */
  recordBytes: 1 * MiB,
  /**
   * One record's id as UTF-8. Ids are keys of Postgres btree indexes, whose entries cannot be
   * much over 2.7 KB: a longer id failed its whole batch, and every batch after it, inside the
   * store. Providers' ids are far shorter; a longer one is rejected like a record without an id.
   */
  recordIdBytes: 1024,
  /** Rejected records described per batch; the rest are counted only. */
  rejectedPerBatch: 1000,
  rejectReasonChars: 1000,
  logLineChars: 8 * 1024,
  logsPerRun: 5000,
  proxyRequestBytes: 8 * MiB,
  proxyResponseBytes: 16 * MiB,
  actionOutputBytes: 2 * MiB,
  /**
   * Metadata and checkpoints, as JSON text in UTF-8: what a script writes and what the HTTP API
   * writes (host/connections/metadata-size.ts), one cap for both, since each reads the other's.
   */
  stateBytes: 1 * MiB,
  /**
   * Host calls (anything but timers) one run may have handed over and not seen answered, and of
   * those, record batches: more wait in the isolate, in the script's own memory and wall time.
   */
  hostCallsInFlight: 8,
  batchesInFlight: 2,
  /** Live setTimeout/setInterval timers per run. */
  timers: 10_000,
} as const;

export type Caps = typeof CAPS;
