/**
 * GET /records' read-ahead: after a full page, the host reads the page that follows it for the
 * reader on that kept-alive socket, while page N is still on its way and the reader parses it.
 * A reader that takes turns (ask, receive, parse, ask again) otherwise leaves Postgres and the
 * host idle while it parses, and pays Postgres' time for every page on top of its own parse
 * (docs/api.md, "The bound of a reader that takes turns").
 *
 * A page read ahead is served only to the request it was read for (the same key, connection,
 * model, filters, limit, and the previous page's next_cursor), and only when it is still exactly
 * what that request would read now: its cursors are checked against the page query's cursors at
 * request time, in one small statement that also checks the key (pageCursors). A cursor names one
 * version of one record (every change draws a new one), so equal cursors are equal rows; any
 * write, delete or revoked key in between makes them differ, and the request reads afresh. The
 * cursor promise is then the same as without the read-ahead, and so is read-your-writes.
 *
 * Bounded: one page per socket whose request read the page before it, at most MAX_HELD pages and
 * about MAX_HELD_BYTES at once in the process, only after a full page of at most MAX_PAGE_BYTES; dropped when that socket
 * closes or carries another request, or after IDLE_MS unclaimed. A read-ahead that fails is
 * simply not served.
 */
import { channel } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { Logger } from '../../logger.ts';
import type { PageBody, ReadPageArgs, RecordStore } from '../../store/records.ts';

/**
 * What the read-ahead did, for tests and tracing: { event: 'ready' | 'served' | 'dropped', reason? }.
 * 'ready' when a page read ahead has its every byte; 'dropped' names why it was not served.
 */
export const readAheadChannel = channel('ferry:records:read-ahead');

export type ReadAheadEvent =
  | { event: 'ready' | 'served' }
  | { event: 'dropped'; reason: 'changed' | 'other request' | 'closed' | 'idle' | 'failed' | 'empty' };

/** Pages held ahead at once in one process. */
const MAX_HELD = 32;
/** Their bytes at most, each counted as the size of the page before it. */
const MAX_HELD_BYTES = 64 * 1024 * 1024;
/** A page larger than this is not followed by a read-ahead (the next one is likely as large). */
const MAX_PAGE_BYTES = 8 * 1024 * 1024;
/** A page nobody asked for within this long is dropped. */
const IDLE_MS = 10_000;

interface Held {
  /** readAheadKey of the request it is for. */
  key: string;
  /** The socket whose request read the page before it. */
  socket: Socket;
  /** The size of the page before it, as its own is not known until it is read. */
  bytes: number;
  page: Promise<PageBody>;
  timer: NodeJS.Timeout;
}

/** Everything that decides a page's rows, the cursor included. */
export function readAheadKey(args: ReadPageArgs): string {
  const c = args.connectionId;
  return JSON.stringify([
    typeof c === 'object' ? [c.keyHash, c.connectionId] : String(c), args.model, args.cursor ?? '', args.limit,
    args.filter ?? null, args.modifiedAfter?.toISOString() ?? null, args.ids ?? null,
  ]);
}

const publish = (event: ReadAheadEvent) => { if (readAheadChannel.hasSubscribers) readAheadChannel.publish(event); };

export interface ReadAhead {
  /**
   * The page read ahead for this request, if it is still exactly what the request would read
   * now; null otherwise (the request reads afresh). A reader may ask on another of its kept-alive
   * sockets than the one it read the page before on (fetch keeps several): the page is found by
   * the request, and whatever this socket's previous request read ahead and nobody claimed is dropped.
   */
  claim(socket: Socket | undefined, args: ReadPageArgs): Promise<PageBody | null>;
  /** After serving `page` for `args` on `socket`: reads the next page ahead if this one was full. */
  follow(socket: Socket | undefined, args: ReadPageArgs, page: PageBody): void;
}

export function createReadAhead(deps: { records: RecordStore; logger: Logger }): ReadAhead {
  const byKey = new Map<string, Held>();
  const bySocket = new WeakMap<Socket, Held>();
  const watched = new WeakSet<Socket>();
  let heldBytes = 0;

  /** Takes a held page out of both indexes. */
  const take = (h: Held | undefined): Held | null => {
    if (!h || byKey.get(h.key) !== h) return null;
    byKey.delete(h.key);
    if (bySocket.get(h.socket) === h) bySocket.delete(h.socket);
    heldBytes -= h.bytes;
    clearTimeout(h.timer);
    return h;
  };
  // A page dropped while its query runs is read to its end and let go, not cancelled: a cancel
  // request names the backend, not the statement, and one that arrives as the page ends would
  // hit whatever statement that pooled connection runs next. A page is at most MAX_PAGE_BYTES-ish.
  const drop = (h: Held, reason: Extract<ReadAheadEvent, { event: 'dropped' }>['reason']) => {
    h.page.then((p) => p.ended.then(() => p.body.cancel()), () => {}).catch(() => {});
    publish({ event: 'dropped', reason });
  };

  const start = (socket: Socket, args: ReadPageArgs, bytes: number) => {
    const key = readAheadKey(args);
    if (socket.destroyed || byKey.has(key)) return;
    const previous = take(bySocket.get(socket));
    if (previous) drop(previous, 'other request');
    if (byKey.size >= MAX_HELD || heldBytes + bytes > MAX_HELD_BYTES) return;
    if (!watched.has(socket)) {
      watched.add(socket);
      socket.once('close', () => {
        const h = take(bySocket.get(socket));
        if (h) drop(h, 'closed');
      });
    }
    const page = deps.records.streamPageBody(args);
    page.then((p) => p.ended.then((end) => { if (end) publish({ event: 'ready' }); }), () => {});
    const h: Held = {
      key, socket, bytes, page,
      timer: setTimeout(() => { if (take(h)) drop(h, 'idle'); }, IDLE_MS).unref(),
    };
    byKey.set(key, h);
    bySocket.set(socket, h);
    heldBytes += bytes;
  };

  return {
    async claim(socket, args) {
      const h = take(byKey.get(readAheadKey(args)));
      const stale = socket ? take(bySocket.get(socket)) : null;
      if (stale) drop(stale, 'other request');
      if (!h) return null;
      try {
        // The check reads the cursors as of now, while the page held may still be arriving.
        const [page, now] = await Promise.all([h.page, deps.records.pageCursors(args)]);
        const end = await page.ended;
        if (end === null) return (drop(h, 'failed'), null);
        if (end.rows === 0) return (drop(h, 'empty'), null); // an empty page answers 401/404/200 after its own checks
        if (end.cursors !== now) return (drop(h, 'changed'), null);
        publish({ event: 'served' });
        return page;
      } catch (err) {
        deps.logger.debug({ err }, 'a records page read ahead could not be checked; reading it afresh');
        drop(h, 'failed');
        return null;
      }
    },

    follow(socket, args, page) {
      if (!socket) return;
      void page.ended.then((end) => {
        if (end && end.rows === args.limit && end.bytes <= MAX_PAGE_BYTES && end.nextCursor !== null) start(socket, { ...args, cursor: end.nextCursor }, end.bytes);
      });
    },
  };
}
