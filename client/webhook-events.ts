/**
 * What Ferry POSTs to the environment's webhook URL: the wire contract, shared by the host
 * (which builds these) and apps (which receive them). Every event has `type` and `from`.
 */

export interface SyncEvent {
  type: 'sync';
  from: 'ferry';
  connection_id: string;
  provider: string;
  sync_name: string;
  /** The sync variant whose records changed; absent for the base variant. Read with `variant=<this>`. */
  variant?: string;
  model: string;
  sync_type: 'full' | 'incremental';
  run_id: string;
  counts: { added: number; updated: number; deleted: number };
  /** Read `GET /records?model&connection_id&cursor=<this>` to get exactly what this run changed (and later changes). */
  cursor: string;
  modified_after: string;
  /** Present when the run succeeded with warnings about this model (e.g. DELETES_HELD: deletes held by the mass-delete guard). */
  warnings?: Array<{ code: string; model: string; message: string; held: number; live: number }>;
}

export interface EndUser {
  id: string;
  org_id: string | null;
}

export interface EventError {
  /** Stable, machine-readable (e.g. access_denied, invalid_client, CONNECTION_REAUTH_REQUIRED, VERIFICATION_FAILED). */
  code: string;
  message: string;
}

/** A connection made through a connect session. */
export interface ConnectionCreatedEvent {
  type: 'connection.created';
  from: 'ferry';
  connection_id: string;
  provider: string;
  end_user: EndUser | null;
}

/** A connection repaired through a reconnect session: same id, records and sync state. */
export interface ConnectionReconnectedEvent {
  type: 'connection.reconnected';
  from: 'ferry';
  connection_id: string;
  provider: string;
  end_user: EndUser | null;
}

/**
 * Credentials that stopped working (refresh refused, credentials invalid) or a connect attempt
 * the provider refused (denied consent, bad scopes, invalid client). `connection_id` is null
 * when no connection exists yet.
 */
export interface ConnectionAuthFailedEvent {
  type: 'connection.auth_failed';
  from: 'ferry';
  connection_id: string | null;
  provider: string;
  end_user: EndUser | null;
  error: EventError;
}

/** A sync run failed and the retry policy gave up (no retry is scheduled). */
export interface SyncFailedEvent {
  type: 'sync.failed';
  from: 'ferry';
  connection_id: string;
  provider: string;
  sync_name: string;
  /** Absent for the base variant. */
  variant?: string;
  run_id: string;
  error: EventError;
}

/** An asynchronous action call finished: read its output with GET /actions/jobs/:id instead of polling. */
export interface ActionFinishedEvent {
  type: 'action.finished';
  from: 'ferry';
  connection_id: string;
  provider: string;
  action_name: string;
  /** The job id the async call returned. */
  id: string;
  success: boolean;
  error?: EventError;
}

export type FerryWebhookEvent = SyncEvent | ConnectionCreatedEvent | ConnectionReconnectedEvent | ConnectionAuthFailedEvent | SyncFailedEvent | ActionFinishedEvent;
