/**
 * The one word GET /syncs/:name/status (and so the dashboard) gives for where a sync stands.
 * It follows the latest run, except where that run does not tell the story: a split pass is
 * judged by its parts, because the latest run is often a part that succeeded while another part
 * failed or gave up, and the pass (and lastSyncDate) then does not move until that part succeeds.
 */
export type SyncStateName = 'running' | 'paused' | 'blocked' | 'stuck' | 'failing' | 'idle';

export interface SyncStateInputs {
  lastRunStatus: string | null;
  paused: boolean;
  blocked: boolean;
  stuck: boolean;
  /** The pair's split pass, when one is going. */
  splitPass: { running: number; failed: number } | null;
}

export function syncStateName(s: SyncStateInputs): SyncStateName {
  if (s.lastRunStatus === 'running' || (s.splitPass?.running ?? 0) > 0) return 'running';
  if (s.paused) return 'paused';
  if (s.blocked) return 'blocked';
  if (s.stuck) return 'stuck';
  // A failed part (retrying, or given up until the sync's next run) holds the whole pass back.
  if ((s.splitPass?.failed ?? 0) > 0) return 'failing';
  return s.lastRunStatus === 'failed' ? 'failing' : 'idle';
}
