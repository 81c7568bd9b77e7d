/**
 * A Nango fixture (`<provider>/tests/<name>.test.json`) as `ferry/testing` replays it without
 * Nango's mocks: the script's requests answered by Nango's own matching (nango-fixture.ts), and
 * the connection, metadata and action input the recording started from. Also the one shape a
 * Nango-style answer (`{ status, headers, data }`, as a mock's `proxy` gives it) takes on its way
 * back to the script, shared with the Nango test mocks (nango-script.ts).
 */
import { describeFailure } from '@ferry/host/proxy-describe';
import { FixtureMismatchError, type ProxyFn } from '@ferry/cli';
import type { ProxyRequest, ProxyResponse } from '@ferry/runtime/contract';
import { matchRecording, nangoRequestTarget, type NangoFixture } from './nango-fixture.ts';

/** What a Nango mock or recording answers: axios' response shape. */
export interface NangoAnswer {
  status?: unknown;
  headers?: Record<string, unknown> | undefined;
  data: unknown;
}

/** The answer as the host's proxy hands it to the script: text body, lower-case headers, a 4xx/5xx described as the host words it. */
export function proxyResponseOf(request: ProxyRequest, answer: NangoAnswer): ProxyResponse {
  const status = typeof answer.status === 'number' ? answer.status : 200;
  const body = answer.data === undefined || answer.data === null ? '' : typeof answer.data === 'string' ? answer.data : JSON.stringify(answer.data);
  const headers = Object.fromEntries(Object.entries(answer.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]));
  if (typeof answer.data !== 'string' && !headers['content-type']) headers['content-type'] = 'application/json';
  const failure = status >= 400 ? describeFailure(request.method, request.endpoint, status, body) : undefined;
  return { status, headers, body, ...(failure !== undefined && { failure }) };
}

/** A proxy answering from a Nango fixture as Nango's test mock matches requests; a request it lacks fails the script's call naming it. */
export function nangoReplayProxy(fixture: NangoFixture, script: string): ProxyFn {
  return async (request) => {
    const { path, params } = nangoRequestTarget(request.endpoint, request.params);
    const recording = matchRecording(fixture, { method: request.method.toLowerCase(), path, params, body: request.body, headers: request.headers });
    if (!recording) {
      const query = params.length ? `?${new URLSearchParams(params)}` : '';
      throw new FixtureMismatchError(`No mock found for ${request.method} ${path}${query} in the Nango fixture of ${script}: record it again with \`nango dryrun ${script} <connection-id> --save\`, or with \`ferry dryrun ${script} --connection <id> --save\` as a Ferry fixture`);
    }
    return proxyResponseOf(request, { status: recording.status, headers: recording.headers, data: recording.response });
  };
}

const objectOr = (value: unknown): Record<string, unknown> | null => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null);

/** What the recorded run started from: its connection (getConnection), its metadata (getMetadata, else the connection's) and an action's input. */
export function nangoFixtureContext(fixture: NangoFixture) {
  const connection = objectOr(fixture.nango.getConnection);
  const metadata = objectOr(fixture.nango.getMetadata) ?? objectOr(connection?.['metadata']);
  return {
    input: fixture.input,
    metadata,
    connection: {
      ...(typeof connection?.['connection_id'] === 'string' && { connection_id: connection['connection_id'] }),
      connection_config: objectOr(connection?.['connection_config']) ?? {},
      metadata,
    },
  };
}
