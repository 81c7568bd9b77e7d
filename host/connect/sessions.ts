/**
 * Connect sessions: an app's backend asks for one per end user, the end user's browser (or the
 * app's own UI) spends it. A session is short-lived, makes one connection, and carries its
 * environment and end user, so nothing the browser sends can point it elsewhere. Only the
 * token's SHA-256 is stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConnectionIdSchema } from '../connections/connections.ts';
import { ProviderSchema } from '../connections/providers.ts';
import type { Sql, TransactionSql } from '../db/connect.ts';

const EndUserIdSchema = z.string().min(1).max(255);

export const NewConnectSessionSchema = z.strictObject({
  end_user: z.strictObject({
    id: EndUserIdSchema,
    email: z.email().max(320).optional(),
    display_name: z.string().min(1).max(255).optional(),
  }),
  organization: z.strictObject({ id: EndUserIdSchema }).optional(),
  /** Providers the end user may pick from; all the environment has when omitted. */
  allowed_providers: z.array(ProviderSchema.shape.name).min(1).max(100).optional(),
  /** Reconnect: repair this existing connection (same id, records and sync state) instead of making a new one. */
  connection_id: ConnectionIdSchema.optional(),
  /** Where the hosted page sends the browser when it is done (redirect flow); a popup posts a message to its opener instead. */
  return_url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
  /** Lifetime; 30 minutes unless given. */
  ttl_seconds: z.number().int().min(60).max(3600).default(1800),
});
export type NewConnectSession = z.infer<typeof NewConnectSessionSchema>;

export interface ConnectSession {
  id: string;
  environment_id: string;
  end_user_id: string;
  end_user_email: string | null;
  end_user_display_name: string | null;
  end_user_org_id: string | null;
  allowed_providers: string[] | null;
  reconnect_connection_id: string | null;
  return_url: string | null;
  expires_at: Date;
  used_at: Date | null;
  connection_id: string | null;
}

export type SessionProblem = 'unknown' | 'expired' | 'used';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

const columns = `id, environment_id, end_user_id, end_user_email, end_user_display_name, end_user_org_id, allowed_providers,
  reconnect_connection_id, return_url, expires_at, used_at, connection_id`;

export function createConnectSessions(sql: Sql) {
  return {
    async create(environmentId: string, input: NewConnectSession): Promise<{ token: string; session: ConnectSession }> {
      const token = `fcs_${randomBytes(32).toString('base64url')}`;
      // Sessions (and their OAuth states) are kept a day past expiry for support questions, then dropped.
      await sql`delete from connect_sessions where expires_at < now() - interval '1 day'`;
      const [session] = await sql<ConnectSession[]>`
        insert into connect_sessions (environment_id, token_hash, end_user_id, end_user_email, end_user_display_name, end_user_org_id,
          allowed_providers, reconnect_connection_id, return_url, expires_at)
        values (${environmentId}, ${hashToken(token)}, ${input.end_user.id}, ${input.end_user.email ?? null}, ${input.end_user.display_name ?? null},
          ${input.organization?.id ?? null}, ${input.allowed_providers ?? null}, ${input.connection_id ?? null}, ${input.return_url ?? null},
          now() + ${input.ttl_seconds} * interval '1 second')
        returning ${sql.unsafe(columns)}`;
      return { token, session: session! };
    },

    /** The live session a token names, or why there is none. */
    async resolve(token: string): Promise<{ session: ConnectSession } | { problem: SessionProblem; session: ConnectSession | null }> {
      const [session] = await sql<(ConnectSession & { expired: boolean })[]>`
        select ${sql.unsafe(columns)}, expires_at <= now() as expired from connect_sessions where token_hash = ${hashToken(token)}`;
      if (!session) return { problem: 'unknown', session: null };
      const { expired, ...rest } = session;
      if (rest.used_at) return { problem: 'used', session: rest };
      if (expired) return { problem: 'expired', session: rest };
      return { session: rest };
    },

    async byId(id: string): Promise<ConnectSession | null> {
      const [row] = await sql<ConnectSession[]>`select ${sql.unsafe(columns)} from connect_sessions where id = ${id}`;
      return row ?? null;
    },

    /**
     * Spends the session in the transaction that saves its connection; false when another
     * request spent it first or it expired meanwhile (the caller rolls back).
     */
    async consume(tx: TransactionSql, id: string, connectionId: string): Promise<boolean> {
      const rows = await tx`
        update connect_sessions set used_at = now(), connection_id = ${connectionId}
        where id = ${id} and used_at is null and expires_at > now() returning id`;
      return rows.length === 1;
    },
  };
}
export type ConnectSessions = ReturnType<typeof createConnectSessions>;
