/**
 * Finding the script a request means for a connection. A connection belongs to one provider, so
 * a bare name is the script of that name of the connection's provider; `provider/name` must name
 * the connection's provider. A miss says where the name is deployed instead.
 */
import { parseScriptAddress } from './script-address.ts';
import type { ScriptRow, Scripts } from './scripts.ts';

export type ScriptLookupCode = 'NOT_FOUND' | 'PROVIDER_MISMATCH';

export class ScriptLookupError extends Error {
  readonly code: ScriptLookupCode;
  /** `provider/name` of the scripts the request could have meant. */
  readonly candidates: string[];
  constructor(code: ScriptLookupCode, message: string, candidates: string[] = []) {
    super(message);
    this.code = code;
    this.candidates = candidates;
  }
}

export async function findScriptFor(
  scripts: Scripts,
  q: { environmentId: string; address: string; kind: 'sync' | 'action'; connection: { connection_id: string; provider: string } },
): Promise<ScriptRow> {
  const { connection, kind } = q;
  const address = parseScriptAddress(q.address);
  if (!address) throw new ScriptLookupError('NOT_FOUND', `${kind} "${q.address}" not found (a ${kind} is named name or provider/name)`);
  if (address.provider !== null && address.provider !== connection.provider) {
    throw new ScriptLookupError('PROVIDER_MISMATCH',
      `${kind} "${q.address}" is for provider "${address.provider}" but connection "${connection.connection_id}" is a "${connection.provider}" connection`);
  }
  const script = await scripts.getActive(q.environmentId, connection.provider, address.name);
  if (script && script.kind === kind) return script;
  const candidates = (await scripts.providersOf(q.environmentId, address.name, kind)).map((provider) => `${provider}/${address.name}`);
  if (candidates.length === 0) throw new ScriptLookupError('NOT_FOUND', `${kind} "${address.name}" not found`);
  throw new ScriptLookupError('PROVIDER_MISMATCH',
    `${kind} "${address.name}" is not deployed for provider "${connection.provider}" (connection "${connection.connection_id}"); it is deployed as ${candidates.join(', ')}`,
    candidates);
}
