/**
 * Generates packages/postgres (`@ferry/postgres`): postgres.js 3.4.9 from the registry tarball
 * (integrity pinned below) with Ferry's repair of a connection that dies mid-transaction (a
 * terminated backend, a restart, a network cut). The generated files are committed, so installing
 * Ferry runs no script and every install of @ferry/host gets the repaired driver. Only the ESM
 * `src/` and the declarations (`types/index.d.cts`) are kept: Ferry is ESM-only and pg-boss runs on Ferry's own adapter
 * (host/queue/pg-boss-db.ts). Unpatched (test/db/backend-killed.test.ts reproduces each against
 * real Postgres):
 * - a transaction statement written after the socket closed (its own automatic ROLLBACK, or the
 *   callback's next query) throws a TypeError from a setImmediate: an uncaught exception that
 *   crashes the host (porsager/postgres#1208, #1155);
 * - close clears the write timer without forgetting it, so the pooled connection never flushes
 *   again: its reconnect hangs until connect_timeout (#1154);
 * - statements queued inside the transaction never settle (#1186), and the callback's later
 *   statements run on the reconnected socket outside any transaction (#1216);
 * - the dead backend's FATAL error is left pending and fails the first query after reconnect.
 * - a query given to the connection between a socket error (ECONNRESET: written to the dead
 *   socket) and its close never settles, nor does anything queued behind it.
 * And one addition: `query.rowMessages()`, each row as the DataRow message Postgres sent, for a
 * reader that copies column bytes on without a Buffer per column (GET /records: bench/api); and
 * a socket may reuse one read buffer (`socket.reusesReadBuffer`, host/db/no-delay-socket.ts):
 * the driver then copies whatever it keeps past a read, and joins a message cut across reads
 * from that message's bytes only.
 * And an unprepared query given \`describe: false\` whose parameters are all strings, numbers or
 * nulls is bound without being described first (a round trip less: GET /records' page).
 * And in transactions: a plain BEGIN is sent with the transaction's first statements instead of
 * answered before them (a round trip less per transaction: bench/scheduler;
 * test/db/driver-transactions.test.ts).
 * Each anchor must match exactly once, so a different upstream fails loudly instead of shipping
 * unrepaired.
 *
 * `node tools/vendor-postgres.ts` rewrites packages/postgres/{src,types,package.json};
 * `node tools/vendor-postgres.ts --check` exits 1 if the committed files differ from a fresh generation.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const UPSTREAM = 'postgres@3.4.9';
// The integrity npm recorded for postgres 3.4.9 (package-lock.json before the fork).
const INTEGRITY = 'sha512-GD3qdB0x1z9xgFI6cdRD6xu2Sp2WCOEoe3mtnyB5Ee0XrrL5Pe+e4CCnJrRMnL1zYtRDZmQQVbvOttLnKDLnaw==';
export const FORK_VERSION = '3.4.9-ferry.1';
const OUT = join(import.meta.dirname, '..', 'packages', 'postgres');

export const MARKER = '/* ferry-patch: backend loss */';
export const ROW_MESSAGES = '/* ferry-patch: row messages */';
export const READ_BUFFER = '/* ferry-patch: reused read buffer */';
export const CANCEL_RESULT = '/* ferry-patch: cancel result */';
export const PIPELINED_BEGIN = '/* ferry-patch: pipelined begin */';
export const UNDESCRIBED = '/* ferry-patch: text parameters undescribed */';

const CONNECTION: Array<[string, string]> = [
  [
    '    q.describeFirst = q.onlyDescribe || (parameters.length && !q.prepared)\n',
    `    ${UNDESCRIBED}
    // An unprepared statement is described before it is bound, a round trip, to learn its
    // parameters' types for their serializers. A query that says \`describe: false\` and binds only
    // strings, numbers and nulls skips it: those are sent as their text whatever the type, and
    // the server reads them as the types it infers (Parse, Describe, Bind and Execute in one write).
    q.describeFirst = q.onlyDescribe || (parameters.length && !q.prepared
      && !(q.options.describe === false && parameters.every(x => x === null || typeof x === 'string' || typeof x === 'number')))
`,
  ],
  [
    'function nextWrite(fn) {\n    const x = socket.write(chunk, fn)',
    `function nextWrite(fn) {
    ${MARKER}
    if (!socket)
      return lostWrite(fn)
    const x = socket.write(chunk, fn)`,
  ],
  [
    '  function connectTimedOut() {',
    `  // A write with no socket (it closed): its queries fail as CONNECTION_CLOSED, nothing throws.
  // Returns true so the pool does not move a closed connection out of its closed queue.
  function lostWrite(fn) {
    chunk = nextWriteTimer = null
    const err = Errors.connection('CONNECTION_CLOSED', options)
    query && (queryError(query, err), query = null)
    while (sent.length)
      queryError(sent.shift(), err)
    fn && fn(err)
    return true
  }

  function connectTimedOut() {`,
  ],
  // terminate() and closed(): forget the cancelled timer and the dead socket's unsent bytes.
  ['    clearImmediate(nextWriteTimer)\n    if (socket) {', '    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null\n    if (socket) {'],
  ['    clearImmediate(nextWriteTimer)\n    socket.removeListener', '    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null\n    socket.removeListener'],
  // closed(): the dead backend's pending error and the rejected query do not outlive it.
  ['    socket.removeAllListeners()\n    socket = null\n', '    socket.removeAllListeners()\n    socket = null\n    errorResponse = results = null\n    result = new Result()\n'],
  ['    delay = (typeof backoff', '    query = null\n    delay = (typeof backoff'],
  // closed() after a socket error: upstream rejects only what was pending when the error fired,
  // so a query the pool gave this connection between the error and the close (it was still
  // busy, not closed) waited forever, and so did every query queued behind it.
  [
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    "    if (query || sent.length) // ferry: also after a socket error\n      error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
  ],
  // data(): safe with a reused read buffer, and a cut message joined from its own bytes only.
  [
    `  function data(x) {
    if (incomings) {
      incomings.push(x)
      remaining -= x.length
      if (remaining > 0)
        return
    }

    incoming = incomings
      ? Buffer.concat(incomings, length - remaining)
      : incoming.length === 0
        ? x
        : Buffer.concat([incoming, x], incoming.length + x.length)

    while (incoming.length > 4) {
      length = incoming.readUInt32BE(1)
      if (length >= incoming.length) {
        remaining = length - incoming.length
        incomings = [incoming]
        break
      }

      try {
        handle(incoming.subarray(0, length + 1))
      } catch (e) {
        query && (query.cursorFn || query.describeFirst) && write(Sync)
        errored(e)
      }
      incoming = incoming.subarray(length + 1)
      remaining = 0
      incomings = null
    }
  }

`,
    `  function data(x) {
    ${READ_BUFFER}
    // x may be a view of a read buffer the socket reuses (host/db/no-delay-socket.ts): whatever
    // outlives this call is copied (a message cut across reads, a few header bytes), and only
    // that. Upstream joined the whole next read to a cut message, copying ~every byte received
    // once more.
    if (incomings) {
      if (x.length < remaining) {
        incomings.push(Buffer.from(x))
        remaining -= x.length
        return
      }
      incomings.push(x.subarray(0, remaining))
      const message = Buffer.concat(incomings, length + 1)
      x = x.subarray(remaining)
      remaining = 0
      incomings = null
      try {
        handle(message)
      } catch (e) {
        query && (query.cursorFn || query.describeFirst) && write(Sync)
        errored(e)
      }
    }

    incoming = incoming.length === 0
      ? x
      : Buffer.concat([incoming, x], incoming.length + x.length)

    while (incoming.length > 4) {
      length = incoming.readUInt32BE(1)
      if (length >= incoming.length) {
        remaining = length + 1 - incoming.length
        incomings = [Buffer.from(incoming)]
        incoming = Buffer.alloc(0)
        return
      }

      try {
        handle(incoming.subarray(0, length + 1))
      } catch (e) {
        query && (query.cursorFn || query.describeFirst) && write(Sync)
        errored(e)
      }
      incoming = incoming.subarray(length + 1)
    }
    if (incoming.length)
      incoming = Buffer.from(incoming)
  }

`,
  ],
  // Values kept past the read that carried them are copies when the socket reuses its buffer.
  [
    '          ? x.subarray(index, index += length)',
    '          ? (socket.reusesReadBuffer ? Buffer.from(x.subarray(index, index += length)) : x.subarray(index, index += length))',
  ],
  [
    '    stream && (stream.push(x.subarray(5)) || socket.pause())',
    '    stream && (stream.push(socket.reusesReadBuffer ? Buffer.from(x.subarray(5)) : x.subarray(5)) || socket.pause())',
  ],
  // A rowMessages() query hands each DataRow message to its forEach callback as received.
  [
    '  function DataRow(x) {\n',
    `  function DataRow(x) {
    ${ROW_MESSAGES}
    if (query.isRaw === 'message')
      return query.forEachFn ? query.forEachFn(x, result) : (result[rows++] = Buffer.from(x))
`,
  ],
];

const QUERY: Array<[string, string]> = [
  [
    '  values() {\n',
    `  ${ROW_MESSAGES}
  // Each row as its DataRow message ('D', int32 length, int16 column count, then per column an
  // int32 byte length, -1 for null, and the bytes): with forEach, a view of the socket's bytes,
  // valid only during the callback. No Buffer or array per column and row: GET /records copies
  // the columns straight into its response.
  rowMessages() {
    this.isRaw = 'message'
    return this
  }

  values() {
`,
  ],
  [
    '  cancel() {\n    return this.canceller && (this.canceller(this), this.canceller = null)\n  }\n',
    `  ${CANCEL_RESULT}
  // Returns the cancel's promise, which upstream dropped: a cancel request that cannot reach the
  // server (Postgres down) rejects where the caller handles it, not as an unhandled rejection.
  cancel() {
    const canceller = this.canceller
    this.canceller = null
    return canceller ? canceller(this) : Promise.resolve()
  }
`,
  ],
];

const INDEX: Array<[string, string]> = [
  ['    let savepoints = 0\n', `    ${MARKER}\n    let closedError = null\n    let savepoints = 0\n`],
  // begin(): a plain BEGIN goes with the transaction's first statements.
  [
    "      await sql.unsafe('begin ' + options.replace(/[^a-z ]/ig, ''), [], { onexecute }).execute()\n",
    `      ${PIPELINED_BEGIN}
      // A plain BEGIN is not refused on a live connection (a second BEGIN is a warning), so the
      // callback starts once the BEGIN is written, not answered: its first statements follow the
      // BEGIN in the same write, a round trip less per transaction. A lost connection fails them
      // all alike. A BEGIN with a mode (isolation level, read only) may be refused, and the
      // statements would then run outside a transaction: its answer is awaited, as upstream.
      const mode = options.replace(/[^a-z ]/ig, '')
      const begun = sql.unsafe('begin ' + mode, [], { onexecute }).execute()
      begun.catch(() => {})
      if (mode.trim()) {
        await begun
      } else {
        await Promise.race([written, begun])
        // Upstream parks the connection (full) until the BEGIN's answer, holding the callback's
        // statements back; written, it takes them at once. The pool hands it to no one either way.
        connection.queue === full && move(connection, reserved)
      }
`,
  ],
  [
    '    function onexecute(c) {\n      connection = c\n',
    `    function onexecute(c) {\n      connection = c\n      wrote()\n`,
  ],
  ['      , prepare = null\n', `      , prepare = null\n      , wrote\n    const written = new Promise(r => wrote = r)\n`],
  // Its statements have been answered, so the BEGIN has too: a refused one fails the transaction
  // (rolled back, never committed as if it were one).
  [
    '        scope(connection, fn),\n',
    `        scope(connection, mode.trim() ? fn : async sql => {
          const x = fn(sql)
          const result = await (Array.isArray(x) ? Promise.all(x) : x)
          await begun
          return result
        }),
`,
  ],
  [
    'new Promise((_, reject) => connection.onclose = reject)',
    'new Promise((_, reject) => connection.onclose = e => {\n          closedError = e\n          while (queries.length)\n            queries.shift().reject(e)\n          reject(e)\n        })',
  ],
  [
    '        q.catch(e => uncaughtError || (uncaughtError = e))\n',
    '        q.catch(e => uncaughtError || (uncaughtError = e))\n        if (closedError)\n          return q.reject(closedError)\n',
  ],
];

function patched(text: string, edits: Array<[string, string]>, file: string): string {
  for (const [from, to] of edits) {
    const count = text.split(from).length - 1;
    if (count !== 1) throw new Error(`vendor-postgres: ${file}: expected one match of ${JSON.stringify(from.slice(0, 60))}, found ${count}`);
    text = text.replace(from, () => to);
  }
  return text;
}

/** Downloads and unpacks the upstream tarball; returns the folder holding its package.json. */
function upstream(work: string): string {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', UPSTREAM, '--pack-destination', work, '--json', '--ignore-scripts'], { encoding: 'utf8' })) as Array<{ filename: string; integrity: string }>;
  if (packed!.integrity !== INTEGRITY) throw new Error(`vendor-postgres: ${UPSTREAM} has integrity ${packed!.integrity}, expected ${INTEGRITY}`);
  execFileSync('tar', ['-xzf', join(work, packed!.filename), '-C', work]);
  return join(work, 'package');
}

function manifest(upstreamManifest: { version: string; license: string; engines: unknown }): string {
  if (upstreamManifest.version !== '3.4.9') throw new Error(`vendor-postgres: written for postgres 3.4.9, found ${upstreamManifest.version}`);
  const fork = {
    name: '@ferry/postgres',
    version: FORK_VERSION,
    description: 'postgres.js 3.4.9 with Ferry\'s repair of a backend that dies mid-transaction (see README.md). Generated by tools/vendor-postgres.ts.',
    license: upstreamManifest.license,
    type: 'module',
    engines: upstreamManifest.engines,
    exports: { '.': { types: './types/index.d.cts', default: './src/index.js' } },
    types: './types/index.d.cts',
    repository: 'porsager/postgres',
  };
  return `${JSON.stringify(fork, null, 2)}\n`;
}

/** Writes the fork into `out`: src/ (patched), types/index.d.cts, package.json. */
export function generate(out: string): void {
  const work = mkdtempSync(join(tmpdir(), 'vendor-postgres-'));
  try {
    const from = upstream(work);
    rmSync(join(out, 'src'), { recursive: true, force: true });
    rmSync(join(out, 'types'), { recursive: true, force: true });
    mkdirSync(join(out, 'types'), { recursive: true });
    cpSync(join(from, 'src'), join(out, 'src'), { recursive: true });
    // Upstream's declarations are CommonJS (`export =`), made so by a types/package.json without
    // "type"; .d.cts says the same without a nested package.json (staging drops those).
    cpSync(join(from, 'types', 'index.d.ts'), join(out, 'types', 'index.d.cts'));
    for (const [file, edits] of [['connection.js', CONNECTION], ['index.js', INDEX], ['query.js', QUERY]] as const) {
      const path = join(out, 'src', file);
      writeFileSync(path, patched(readFileSync(path, 'utf8'), edits, `src/${file}`));
    }
    writeFileSync(join(out, 'package.json'), manifest(JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'))));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function filesOf(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Array<{ isFile(): boolean; parentPath: string; name: string }>)
    .filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

if (import.meta.main) {
  if (process.argv.includes('--check')) {
    const fresh = mkdtempSync(join(tmpdir(), 'vendor-postgres-check-'));
    try {
      generate(fresh);
      const differ = filesOf(fresh).filter((f) => readFileSync(join(fresh, f), 'utf8') !== readFileSync(join(OUT, f), { encoding: 'utf8', flag: 'r' }));
      if (differ.length) {
        process.stderr.write(`vendor-postgres: packages/postgres differs from a fresh generation: ${differ.join(', ')}\n`);
        process.exit(1);
      }
      process.stdout.write('vendor-postgres: packages/postgres matches a fresh generation\n');
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  } else {
    generate(OUT);
    process.stdout.write(`vendor-postgres: wrote packages/postgres (@ferry/postgres ${FORK_VERSION})\n`);
  }
}
