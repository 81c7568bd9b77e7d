/** The API's JSON as the dashboard reads it (host/api/routes/* define and validate these shapes). */
export interface Counts { added: number; updated: number; unchanged: number; deleted: number; rejected: number }

export interface Run {
  id: string;
  connection_id: string;
  sync: string;
  variant: string;
  part: string | null;
  kind: string;
  version: number;
  status: 'running' | 'succeeded' | 'failed';
  trigger: string;
  full: boolean;
  started_at: string;
  finished_at: string | null;
  counts: Counts;
  usage: { wall_ms: number; cpu_ms: number | null; peak_heap_bytes: number; bridge_bytes: number; proxy_calls: number | null } | null;
  memory_limit_mb: number | null;
  fetch_window: { last_sync_date: string | null; checkpoint: Record<string, unknown> | null } | null;
  error: { kind?: string; code?: string; message?: string; stack?: string; location?: { file: string; line: number; column: number } } | null;
}

export interface SyncStatus {
  sync: string;
  variant: string;
  connection_id: string;
  version: number;
  state: 'running' | 'paused' | 'blocked' | 'stuck' | 'failing' | 'idle';
  paused: boolean;
  connection_paused: boolean;
  blocked: { code: string; message: string } | null;
  stuck: boolean;
  schedule: string | null;
  schedule_override: string | null;
  next_run_at: string;
  last_sync_date: string | null;
  checkpoint: Record<string, unknown> | null;
  consecutive_failures: number;
  last_run: { id: string; status: string; started_at: string; finished_at: string | null } | null;
  runs_in_window: number;
  success_rate: number | null;
  avg_duration_ms: number | null;
  split_pass: SplitPass | null;
}

export interface SplitPart {
  part: string;
  window_from: string | null;
  window_to: string | null;
  state: 'pending' | 'held' | 'queued' | 'running' | 'failed' | 'given_up' | 'succeeded';
  records: number;
  retry_attempt: number;
  next_run_at: string | null;
  run_id: string | null;
}
export interface SplitPass { parts: number; succeeded: number; running: number; failed: number; given_up: number; held: number; items: SplitPart[] }

export interface Connection { connection_id: string; provider: string; metadata: Record<string, unknown> | null; end_user?: { id: string; org_id: string | null } | null; created_at: string; updated_at: string }
export interface Script { name: string; provider: string; kind: string; version: number; hash: string; manifest: { models?: string[]; frequency?: string; limits?: { memoryMb?: number } } & Record<string, unknown> }
export interface DeploySummary { version: number; created_at: string; rollback_of: number | null; active: boolean; scripts: number }
export interface DeployDetail extends Omit<DeploySummary, 'scripts'> { scripts: Script[] }
export interface LogLine { seq: number; level: string; message: string; at: string }
export interface Call { id: string; method: string; path: string; status: number | null; durationMs: number; retries: number; error?: string; at: string }
export interface Rejected { seq: string; model: string; record_id: string | null; reason: string; rejected_at: string }
export interface RecordMeta { first_seen_at: string; last_modified_at: string; last_action: 'added' | 'updated' | 'deleted'; deleted_at: string | null; cursor: string }
export type FerryRecord = { id: string; _ferry_metadata: RecordMeta } & Record<string, unknown>;
