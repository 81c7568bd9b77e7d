/** The `:name` of script routes: `name`, or `provider/name` (URL-encoded slash), checked against the connection's provider. */
import { z } from 'zod';
import { parseScriptAddress } from '../../deploy/script-address.ts';
import { ScriptLookupError } from '../../deploy/script-lookup.ts';
import { ApiError } from '../errors.ts';

export const ScriptAddressParam = (kind: 'sync' | 'action') => z.object({
  name: z.string().max(164).refine((text) => parseScriptAddress(text) !== null, `a ${kind} name (lowercase letters, digits, - and _), optionally as provider/name`),
});

/**
 * The bare name `address` means for this connection, for routes that read by (connection, name)
 * without loading the script: `provider/name` of another provider is refused.
 */
export function nameForConnection(address: string, connection: { connection_id: string; provider: string }, path: string[]): string {
  const parsed = parseScriptAddress(address)!;
  if (parsed.provider !== null && parsed.provider !== connection.provider) {
    const message = `"${address}" is a script of provider "${parsed.provider}" but connection "${connection.connection_id}" is a "${connection.provider}" connection`;
    throw new ApiError(400, 'PROVIDER_MISMATCH', message, [{ path, message }]);
  }
  return parsed.name;
}

/** A lookup that missed: 404 when nothing has the name, 400 naming the candidates when only other providers do. */
export function scriptLookupApiError(err: ScriptLookupError): ApiError {
  if (err.code === 'NOT_FOUND') return new ApiError(404, 'NOT_FOUND', err.message);
  return new ApiError(400, err.code, err.message, [{ path: ['body', 'connection_id'], message: err.message }]);
}
