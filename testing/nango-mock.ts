/**
 * `ferry/testing/nango`: Nango's test mocks (`NangoActionMock`, `NangoSyncMock`, what
 * `import … from 'nango/test'` gives a Nango project), reading the fixtures `nango dryrun
 * --save` records (`tests/<name>.test.json`). The script itself does not run against this
 * object in Node: under the Ferry vitest plugin (`ferry/testing/vitest`) a test's
 * `createSync.exec(nangoMock)` runs the script in Ferry's runtime, and every host call it makes
 * (HTTP, batchSave, metadata, checkpoints, logs) is answered by or reported to this mock, so the
 * test's spies and `mockResolvedValue`s work as under Nango.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { vi, type Mock } from 'vitest';
import { ActionError } from '@ferry/sdk';
import { matchRecording, nangoRequestTarget, NangoFixtureSchema, type NangoFixture } from './nango-fixture.ts';
import { readLegacyMocks } from './nango-legacy-mocks.ts';
import { z } from 'zod';

/** What a script passes to `nango.proxy` (Nango's `ProxyConfiguration`), as far as matching reads it. */
export interface NangoProxyConfig {
  endpoint: string;
  method?: string;
  params?: Record<string, unknown> | string;
  headers?: Record<string, unknown>;
  data?: unknown;
  [option: string]: unknown;
}

/** The recorded answer, in the shape of Nango's (axios') response. */
export interface NangoProxyResponse {
  data: unknown;
  headers: Record<string, string>;
  status: number;
}

type Async<T> = (...args: any[]) => Promise<T>;

/**
 * What the mock's own `paginate` answers: the script's paginate walks the pages itself, in
 * Ferry's runtime, each request through the mock's `get`/`post`… A test that mocks `paginate`
 * (`vi.spyOn(nangoMock, 'paginate').mockImplementation(async function* () { yield [...] })`)
 * answers the pages instead. A registered symbol: one value for every copy of this module.
 */
export const PAGINATE_IN_RUNTIME = Symbol.for('ferry.testing.nango.paginate-in-runtime');

interface LoadedFixture {
  fixture: NangoFixture;
  /** Endpoints of the older `mocks/` layout recorded as a response body alone (`method path`). */
  unidentified: Set<string>;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

/**
 * Where Nango's mock looks: `<dirname>/<test file's name>.test.json`, else
 * `<dirname>/<name>.test.json`, else the older `<dirname>/../mocks/` folder.
 */
async function loadFixture(dir: string, name: string): Promise<LoadedFixture> {
  // As Nango's mock does: the test file that constructs the mock names its own fixture first.
  const testFile = new Error().stack?.split('\n').find((line) => line.includes(dir) && line.includes('.test.ts'))?.match(/\/([^/]+)\.test\.ts/)?.[1];
  const candidates = [...new Set([testFile, name].filter((n): n is string => Boolean(n)))].map((n) => resolve(dir, `${n}.test.json`));
  for (const path of candidates) {
    if (!(await exists(path))) continue;
    const parsed = NangoFixtureSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    if (!parsed.success) throw new Error(`${path} is not a Nango fixture: ${z.prettifyError(parsed.error)}`);
    return { fixture: parsed.data, unidentified: new Set() };
  }
  const mocks = resolve(dir, '../mocks');
  if (await exists(mocks)) {
    const { fixture, unidentified } = await readLegacyMocks(mocks, name);
    return { fixture, unidentified: new Set(unidentified.map((u) => `${u.method} ${u.endpoint.replace(/^\/+/, '')}`)) };
  }
  throw new Error(`No Nango fixture for "${name}": looked for ${candidates.join(' and ')} and ${mocks}. Record one with \`nango dryrun ${name} <connection> --save\`.`);
}

export class NangoActionMock {
  readonly dirname: string;
  readonly name: string;
  readonly Model: string;
  /** The provider folder (`<provider>/tests` → `<provider>`), as Nango's mock names it. */
  readonly providerConfigKey: string;
  readonly ActionError = ActionError;
  protected readonly loaded: Promise<LoadedFixture>;
  /** The query each unidentified recording first answered: it answers that one again, no other (a next page is a miss). */
  private readonly unidentifiedClaims = new Map<string, string>();

  readonly log: Mock<(message: unknown, ...args: unknown[]) => Promise<void>>;
  readonly getConnection: Mock<() => Promise<unknown>>;
  readonly getMetadata: Mock<() => Promise<unknown>>;
  readonly setMetadata: Mock<(metadata: unknown) => Promise<unknown>>;
  readonly updateMetadata: Mock<(metadata: unknown) => Promise<unknown>>;
  readonly proxy: Mock<(config: NangoProxyConfig) => Promise<NangoProxyResponse>>;
  readonly get: Mock<(config: NangoProxyConfig) => Promise<NangoProxyResponse>>;
  readonly post: Mock<(config: NangoProxyConfig) => Promise<NangoProxyResponse>>;
  readonly put: Mock<(config: NangoProxyConfig) => Promise<NangoProxyResponse>>;
  readonly patch: Mock<(config: NangoProxyConfig) => Promise<NangoProxyResponse>>;
  readonly delete: Mock<(config: NangoProxyConfig) => Promise<NangoProxyResponse>>;
  /** Called with the script's config for each `nango.paginate(config)`, as Nango's mock is. */
  readonly paginate: Mock<(config: NangoProxyConfig) => unknown>;
  readonly getWebhookURL: Mock<() => string>;
  readonly zodValidateInput: Mock<(args: { input: unknown }) => { data: unknown }>;
  readonly trackDeletesStart: Mock<(model: string) => Promise<unknown>>;
  readonly trackDeletesEnd: Mock<(model: string) => Promise<unknown>>;
  readonly deleteRecordsFromPreviousExecutions: Mock<(model: string) => Promise<unknown>>;

  constructor({ dirname: dir, name, Model }: { dirname: string; name: string; Model: string }) {
    this.dirname = dir;
    this.name = name;
    this.Model = Model;
    this.providerConfigKey = basename(dirname(dir));
    this.loaded = loadFixture(dir, name);
    // Read when the test asks; a test that never does must not fail on an unhandled rejection.
    this.loaded.catch(() => undefined);

    const recorded = (key: string, required: boolean) => async () => {
      const value = ((await this.loaded).fixture.nango as Record<string, unknown>)[key];
      // Nango's wording exactly: scripts catch it by message (`error.message !== 'Missing mock data for getMetadata'`).
      if (value === undefined && required) throw new Error(`Missing mock data for ${key}`);
      return value;
    };
    this.log = vi.fn<Async<void>>(async () => undefined);
    this.getConnection = vi.fn(recorded('getConnection', true));
    this.getMetadata = vi.fn(recorded('getMetadata', true));
    this.setMetadata = vi.fn(recorded('setMetadata', false));
    this.updateMetadata = vi.fn(recorded('updateMetadata', false));
    this.trackDeletesStart = vi.fn(recorded('trackDeletesStart', false));
    this.trackDeletesEnd = vi.fn(recorded('trackDeletesEnd', false));
    this.deleteRecordsFromPreviousExecutions = vi.fn(recorded('deleteRecordsFromPreviousExecutions', false));
    this.proxy = vi.fn((config: NangoProxyConfig) => this.answer(config));
    const withMethod = (method: string) => vi.fn((config: NangoProxyConfig) => this.proxy({ ...config, method }));
    this.get = withMethod('get');
    this.post = withMethod('post');
    this.put = withMethod('put');
    this.patch = withMethod('patch');
    this.delete = withMethod('delete');
    this.paginate = vi.fn((_config: NangoProxyConfig): unknown => PAGINATE_IN_RUNTIME);
    this.getWebhookURL = vi.fn(() => 'https://example.com/webhook');
    this.zodValidateInput = vi.fn(({ input }: { input: unknown }) => ({ data: input }));
  }

  async getInput(): Promise<unknown> {
    return (await this.loaded).fixture.input;
  }

  async getOutput(): Promise<unknown> {
    const { output } = (await this.loaded).fixture;
    if (output === undefined) throw new Error('Missing mock data for output');
    return output;
  }

  async getBatchSaveData(model: string): Promise<unknown> {
    return (await this.loaded).fixture.nango.batchSave?.[model];
  }

  async getBatchDeleteData(model: string): Promise<unknown> {
    return (await this.loaded).fixture.nango.batchDelete?.[model];
  }

  /** The recording Nango's matching rules pick for the request, or the error Nango's mock throws. */
  private async answer(config: NangoProxyConfig): Promise<NangoProxyResponse> {
    const method = (config.method ?? 'get').toLowerCase();
    const { path, params } = nangoRequestTarget(config.endpoint, config.params);
    const body = config.data === undefined || typeof config.data === 'string' ? config.data : JSON.stringify(config.data);
    const headers = Object.fromEntries(Object.entries(config.headers ?? {}).map(([k, v]) => [k, String(v)]));
    const { fixture, unidentified } = await this.loaded;
    let recording = matchRecording(fixture, { method, path, params, body: body as string | undefined, headers });
    const endpoint = `${method} ${path.replace(/^\/+/, '')}`;
    if (!recording && unidentified.has(endpoint)) {
      const query = JSON.stringify([...params].sort());
      if ((this.unidentifiedClaims.get(endpoint) ?? query) === query) {
        this.unidentifiedClaims.set(endpoint, query);
        recording = matchRecording(fixture, { method, path, params: [], body: undefined });
      }
    }
    if (!recording) {
      const query = params.length ? `?${new URLSearchParams(params)}` : '';
      throw new Error(`No mock found for ${method.toUpperCase()} ${path}${query} in the fixture of "${this.name}". To fix this, record the missing mock by running: nango dryrun ${this.name} <connection-id> --save`);
    }
    const responseHeaders = Object.fromEntries(Object.entries(recording.headers ?? {}).map(([k, v]) => [k, String(v)]));
    return { data: recording.response, headers: responseHeaders, status: recording.status ?? 200 };
  }
}

export class NangoSyncMock extends NangoActionMock {
  /** What the run starts from; a test may set it before `exec`. */
  lastSyncDate: Date | null = null;
  private checkpoint: Record<string, unknown> | null = null;

  readonly batchSave: Mock<(records: unknown[], model: string) => Promise<unknown>>;
  readonly batchUpdate: Mock<(records: unknown[], model: string) => Promise<unknown>>;
  readonly batchDelete: Mock<(records: unknown[], model: string) => Promise<unknown>>;
  readonly getCheckpoint: Mock<() => Promise<Record<string, unknown> | null>>;
  readonly saveCheckpoint: Mock<(checkpoint: Record<string, unknown>) => Promise<void>>;
  readonly clearCheckpoint: Mock<() => Promise<void>>;
  /**
   * The records the sync holds before the run, read by the script's `nango.listRecords(model)`:
   * the fixture's `nango.listRecords[model]` when it records them, else none. A test may mock it
   * (`nangoMock.listRecords.mockImplementation(async function* () { yield … })`).
   */
  readonly listRecords: Mock<(model: string) => AsyncGenerator<unknown, void, undefined>>;

  constructor(options: { dirname: string; name: string; Model: string }) {
    super(options);
    const loaded = this.loaded;
    this.listRecords = vi.fn(async function* (model: string) {
      const recorded = ((await loaded).fixture.nango as Record<string, unknown>)['listRecords'];
      const records = recorded !== null && typeof recorded === 'object' ? (recorded as Record<string, unknown>)[model] : undefined;
      if (Array.isArray(records)) yield* records;
    });
    this.batchSave = vi.fn<Async<unknown>>(async () => true);
    this.batchUpdate = vi.fn<Async<unknown>>(async () => true);
    this.batchDelete = vi.fn<Async<unknown>>(async () => true);
    this.getCheckpoint = vi.fn(async () => this.checkpoint);
    this.saveCheckpoint = vi.fn(async (checkpoint: Record<string, unknown>) => {
      this.checkpoint = checkpoint;
    });
    this.clearCheckpoint = vi.fn(async () => {
      this.checkpoint = null;
    });
  }
}
