/**
 * A GET /records page parsed as its bytes arrive. The host puts each record on a line of its own
 * (`{"records":[`, then one record per line, each but the last followed by `,`, then
 * `],"next_cursor":…}`; still one JSON document), so each record is parsed on its own while the
 * rest of the page is on its way, as a database driver parses rows: by the page's last byte little
 * is left to parse, and no string of the whole page (a megabyte per 1,000 records, which the
 * garbage collector has to move) is ever built. A body framed otherwise (an empty page, a proxy that
 * re-encoded it) is parsed whole, as before.
 */

export interface ParsedPage {
  records: unknown[];
  next_cursor: string | null;
}

const HEAD = '{"records":[';
const TAIL = /^\],"next_cursor":(?:"(\d{1,19})"|null)\}\s*$/;

/**
 * 'head' until the first line is read; 'records' after the head line; 'last' once the record
 * without a trailing comma is read; 'whole' when the body is not line-framed (parsed at its end).
 */
type State = 'head' | 'records' | 'last' | 'whole';

const broken = (why: string) => new SyntaxError(`the records page is not the JSON the host sends: ${why}`);

export async function readRecordsPage(body: ReadableStream<Uint8Array> | null): Promise<ParsedPage> {
  if (body === null) throw broken('it has no body');
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const records: unknown[] = [];
  let state: State = 'head';
  let line = '';
  const whole: string[] = [];
  /** The state after one whole line: the head, or a record. */
  const take = (complete: string, at: State): State => {
    if (at === 'head') return complete === HEAD ? 'records' : 'whole';
    if (at !== 'records') throw broken('a line after its last record');
    const more = complete.endsWith(',');
    records.push(JSON.parse(more ? complete.slice(0, -1) : complete));
    return more ? 'records' : 'last';
  };
  for (;;) {
    const { done, value } = await reader.read();
    const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    if (state === 'head' || state === 'whole') whole.push(text);
    if (state !== 'whole') {
      let from = 0;
      for (let at = text.indexOf('\n'); at !== -1 && state !== 'whole'; at = text.indexOf('\n', from)) {
        state = take(line + text.slice(from, at), state);
        line = '';
        from = at + 1;
      }
      if (state === 'whole') {
        line = '';
      } else {
        line += text.slice(from);
        // Framed: nothing is kept but the line being received.
        if (state !== 'head') whole.length = 0;
      }
    }
    if (done) break;
  }
  if (state === 'head' || state === 'whole') return JSON.parse(whole.join('')) as ParsedPage;
  const tail = state === 'last' ? TAIL.exec(line) : null;
  if (!tail) throw broken('it ends before its next_cursor');
  return { records, next_cursor: tail[1] ?? null };
}
