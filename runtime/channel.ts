/**
 * The wire between the worker pool and a worker child: length-prefixed frames of V8's
 * structured-clone serialization over the child's fd 3 socket (a batch's JSON text crosses as one
 * string, as with Node's 'advanced' IPC). Node's own IPC channel deserializes inside its reader,
 * where a message it cannot read — a value nested too deep for the deserializer's stack — throws
 * uncaught and ends the parent process. Here every frame is read inside a try, so a child that
 * sends one unreadable or oversized frame is reported (and replaced), never the parent.
 */
import type { Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';

/** Above every cap a message may carry (a 16 MiB batch is at most 32 MiB as UTF-16 text). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const HEADER_BYTES = 4;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** One frame for `value`; throws FrameError when it cannot be serialised or is too large. */
export function encodeFrame(value: unknown): Buffer {
  let body: Buffer;
  try {
    body = serialize(value);
  } catch (error) {
    throw new FrameError(`the message cannot be serialised: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (body.length > MAX_FRAME_BYTES) throw new FrameError(`the message is ${body.length} bytes, over the ${MAX_FRAME_BYTES}-byte frame cap`);
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/**
 * True when reading `value` would cost more than its frame's size. V8's serializer writes an
 * object met again as a back-reference and a sparse array as its length and present items, so
 * 414 bytes can hold 40 levels of `[a, a]` (2^40 paths for the depth check to walk: the parent
 * hung) and 62 bytes an array of length 2^32 - 1 (which a schema loops over). Every object counts
 * once per place it appears: an array its length, a Map or Set its entries, a typed array its
 * bytes (one 1 MiB Uint8Array referenced 1,000 times is a 1 MiB frame, and a walk of a billion
 * elements). Properties set beside an array's items are not counted: nothing walks them
 * (bounds.ts walks arrays by index, as JSON does). A value the child built as a tree of dense
 * arrays and plain objects, as every message is, stays under the frame's byte count (each part
 * needs a byte of its own).
 */
function outgrowsFrame(value: unknown, frameBytes: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  let budget = frameBytes;
  const stack: object[] = [value];
  const push = (child: unknown) => {
    if (child !== null && typeof child === 'object') stack.push(child);
  };
  while (stack.length > 0) {
    const node = stack.pop()!;
    budget--;
    if (ArrayBuffer.isView(node)) budget -= node.byteLength;
    else if (node instanceof ArrayBuffer) budget -= node.byteLength;
    else if (node instanceof String) budget -= node.length; // its characters, which Object.values would list
    else if (Array.isArray(node)) {
      budget -= node.length;
      if (budget < 0) return true;
      for (let i = 0; i < node.length; i++) push(node[i]);
    } else if (node instanceof Map) {
      budget -= 2 * node.size;
      if (budget < 0) return true;
      for (const [key, entry] of node) {
        push(key);
        push(entry);
      }
    } else if (node instanceof Set) {
      budget -= node.size;
      if (budget < 0) return true;
      for (const entry of node) push(entry);
    } else {
      const children = Object.values(node);
      budget -= children.length;
      if (budget < 0) return true;
      for (const child of children) push(child);
    }
    if (budget < 0) return true;
  }
  return false;
}

export interface FrameReader {
  /** Feeds bytes as they arrive; calls onMessage per whole frame, onError once on a bad one. */
  push(chunk: Buffer): void;
}

export function createFrameReader(onMessage: (value: unknown) => void, onError: (error: FrameError) => void): FrameReader {
  let chunks: Buffer[] = [];
  let buffered = 0;
  let failed = false;

  function take(bytes: number): Buffer {
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
    const head = all.subarray(0, bytes);
    const rest = all.subarray(bytes);
    chunks = rest.length > 0 ? [rest] : [];
    buffered = rest.length;
    return head;
  }

  function fail(message: string): void {
    failed = true;
    chunks = [];
    buffered = 0;
    onError(new FrameError(message));
  }

  return {
    push(chunk) {
      if (failed) return;
      chunks.push(chunk);
      buffered += chunk.length;
      while (!failed && buffered >= HEADER_BYTES) {
        if (chunks[0]!.length < HEADER_BYTES) chunks = [Buffer.concat(chunks, buffered)];
        const length = chunks[0]!.readUInt32BE(0);
        if (length > MAX_FRAME_BYTES) return fail(`a frame of ${length} bytes is over the ${MAX_FRAME_BYTES}-byte cap`);
        if (buffered < HEADER_BYTES + length) return;
        const frame = take(HEADER_BYTES + length).subarray(HEADER_BYTES);
        let value: unknown;
        try {
          value = deserialize(frame);
        } catch (error) {
          return fail(`a frame could not be read: ${error instanceof Error ? error.message : String(error)}`);
        }
        if (outgrowsFrame(value, frame.length)) return fail(`a frame of ${frame.length} bytes could not be read: its value is larger than its bytes (objects shared between places, or sparse arrays)`);
        onMessage(value);
      }
    },
  };
}

/** Reads frames from `socket`; onError is told of the first bad frame (the caller ends the peer). */
export function readFrames(socket: Socket, onMessage: (value: unknown) => void, onError: (error: FrameError) => void): void {
  const reader = createFrameReader(onMessage, onError);
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
}
