/**
 * Nango's older fixture layout, before `tests/<name>.test.json`: a `mocks/` folder beside
 * `tests/` holding `<name>/input.json`, `<name>/output.json`, `<name>/<Model>/batchSave.json`
 * (and `batchDelete.json`), `nango/getConnection.json`, `nango/getMetadata.json`, and each
 * recorded request under `nango/<method>/proxy/<endpoint>/`: either `<name>.json` (the response
 * body alone) or `<name>/<sha1>.json` (the request's identity, the response, its status and
 * headers). Read into the unified fixture shape, so one matcher serves both.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { NangoFixtureSchema, type NangoFixture, type RecordedApiCall } from './nango-fixture.ts';

const LegacyRequestFileSchema = z.object({
  requestIdentityHash: z.string().optional(),
  requestIdentity: z.object({
    params: z.array(z.tuple([z.string(), z.unknown()])).default([]),
    headers: z.array(z.tuple([z.string(), z.unknown()])).default([]),
    data: z.unknown().optional(),
  }).optional(),
  response: z.unknown(),
  status: z.number().int().optional(),
  headers: z.record(z.string(), z.unknown()).optional(),
});

/** A recorded response body with no request identity: it answers its endpoint whatever the query. */
export interface UnidentifiedRecording {
  method: string;
  endpoint: string;
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => join(e.parentPath, e.name));
}

/** The fixture `name`'s recordings in `mocksDir`, plus the endpoints recorded without a request identity. */
export async function readLegacyMocks(mocksDir: string, name: string): Promise<{ fixture: NangoFixture; unidentified: UnidentifiedRecording[] }> {
  const nango: Record<string, unknown> = {};
  for (const key of ['getConnection', 'getMetadata', 'updateMetadata', 'trackDeletesStart', 'trackDeletesEnd', 'deleteRecordsFromPreviousExecutions']) {
    const value = await readJson(join(mocksDir, 'nango', `${key}.json`));
    if (value !== undefined) nango[key] = value;
  }
  const batchSave: Record<string, unknown> = {};
  const batchDelete: Record<string, unknown> = {};
  for (const entry of await readdir(join(mocksDir, name), { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory()) continue;
    const saved = await readJson(join(mocksDir, name, entry.name, 'batchSave.json'));
    const deleted = await readJson(join(mocksDir, name, entry.name, 'batchDelete.json'));
    if (saved !== undefined) batchSave[entry.name] = saved;
    if (deleted !== undefined) batchDelete[entry.name] = deleted;
  }

  const api: Record<string, Record<string, RecordedApiCall[]>> = {};
  const unidentified: UnidentifiedRecording[] = [];
  const add = (method: string, endpoint: string, call: RecordedApiCall) => ((api[method] ??= {})[endpoint] ??= []).push(call);
  const proxyRoot = join(mocksDir, 'nango');
  for (const file of await filesUnder(proxyRoot)) {
    // <method>/proxy/<endpoint…>/<name>.json, or <method>/proxy/<endpoint…>/<name>/<hash>.json
    const parts = relative(proxyRoot, file).split(sep);
    if (parts.length < 4 || parts[1] !== 'proxy') continue;
    const method = parts[0]!;
    const rest = parts.slice(2);
    if (rest.at(-1) === `${name}.json`) {
      const endpoint = rest.slice(0, -1).join('/');
      add(method, endpoint, { response: await readJson(file) });
      unidentified.push({ method, endpoint });
    } else if (rest.at(-2) === name && /^[0-9a-f]{40}\.json$/.test(rest.at(-1)!)) {
      const parsed = LegacyRequestFileSchema.safeParse(await readJson(file));
      if (!parsed.success) throw new Error(`${file} is not a Nango mock: ${z.prettifyError(parsed.error)}`);
      const { requestIdentity: identity, requestIdentityHash, response, status, headers } = parsed.data;
      add(method, rest.slice(0, -2).join('/'), {
        response,
        ...(identity && { request: { params: Object.fromEntries(identity.params), headers: Object.fromEntries(identity.headers), ...(identity.data !== undefined && { data: identity.data }) } }),
        ...(requestIdentityHash !== undefined && { hash: requestIdentityHash }),
        ...(status !== undefined && { status }),
        ...(headers !== undefined && { headers }),
      });
    }
  }

  const parsed = NangoFixtureSchema.safeParse({
    input: await readJson(join(mocksDir, name, 'input.json')),
    output: await readJson(join(mocksDir, name, 'output.json')),
    nango: { ...nango, ...(Object.keys(batchSave).length && { batchSave }), ...(Object.keys(batchDelete).length && { batchDelete }) },
    api,
  });
  if (!parsed.success) throw new Error(`${mocksDir} does not hold Nango mocks for "${name}": ${z.prettifyError(parsed.error)}`);
  return { fixture: parsed.data, unidentified };
}
