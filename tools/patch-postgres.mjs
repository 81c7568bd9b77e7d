/**
 * Repairs postgres.js 3.4.9's handling of a connection that dies mid-transaction (a terminated
 * backend, a restart, a network cut), applied to node_modules/postgres by `postinstall`. Unpatched
 * (test/db/backend-killed.test.ts reproduces each against real Postgres):
 * - a transaction statement written after the socket closed (its own automatic ROLLBACK, or the
 *   callback's next query) throws a TypeError from a setImmediate: an uncaught exception that
 *   crashes the host (porsager/postgres#1208, #1155);
 * - close clears the write timer without forgetting it, so the pooled connection never flushes
 *   again: its reconnect hangs until connect_timeout (#1154);
 * - statements queued inside the transaction never settle (#1186), and the callback's later
 *   statements run on the reconnected socket outside any transaction (#1216);
 * - the dead backend's FATAL error is left pending and fails the first query after reconnect.
 * Each anchor must match exactly once: a different postgres.js version fails the install loudly
 * instead of running unrepaired. Plain JavaScript, so it runs under any node npm uses.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const MARKER = '/* ferry-patch: backend loss */';

const CONNECTION = [
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
];

const INDEX = [
  ['    let savepoints = 0\n', `    ${MARKER}\n    let closedError = null\n    let savepoints = 0\n`],
  [
    'new Promise((_, reject) => connection.onclose = reject)',
    'new Promise((_, reject) => connection.onclose = e => {\n          closedError = e\n          while (queries.length)\n            queries.shift().reject(e)\n          reject(e)\n        })',
  ],
  [
    '        q.catch(e => uncaughtError || (uncaughtError = e))\n',
    '        q.catch(e => uncaughtError || (uncaughtError = e))\n        if (closedError)\n          return q.reject(closedError)\n',
  ],
];

function patchFile(path, edits) {
  let text = readFileSync(path, 'utf8');
  if (text.includes(MARKER)) return false;
  for (const [from, to] of edits) {
    const count = text.split(from).length - 1;
    if (count !== 1) throw new Error(`patch-postgres: ${path}: expected one match of ${JSON.stringify(from.slice(0, 60))}, found ${count}`);
    text = text.replace(from, () => to);
  }
  writeFileSync(path, text);
  return true;
}

export function patchPostgres(root) {
  const patched = [];
  for (const dir of ['src', 'cjs/src', 'cf/src']) {
    const base = join(root, dir);
    if (!existsSync(base)) continue;
    if (patchFile(join(base, 'connection.js'), CONNECTION)) patched.push(`${dir}/connection.js`);
    if (patchFile(join(base, 'index.js'), INDEX)) patched.push(`${dir}/index.js`);
  }
  return patched;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const require = createRequire(import.meta.url);
  // postgres.js exports no package.json: its CommonJS entry is <root>/cjs/src/index.js.
  const root = join(dirname(require.resolve('postgres')), '..', '..');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (version !== '3.4.9') throw new Error(`patch-postgres: written for postgres 3.4.9, found ${version}: re-check the upstream fixes`);
  const patched = patchPostgres(root);
  process.stdout.write(`patch-postgres: ${patched.length ? patched.join(', ') : 'already patched'}\n`);
}
