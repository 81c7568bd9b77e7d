/**
 * What makes a slow page slow: each page of the bare HTTP reader split into its steps (request sent
 * → first body byte → last byte → parsed), beside the garbage collections that overlapped it in
 * the reader and in the host process (V8's gc entries, in epoch ms so the two processes' clocks
 * agree). Printed for the slowest 1 % of pages beside the median page: whichever step grows is
 * where the p99 comes from (Postgres and the host before the first byte, the transfer, the parse,
 * or a collection in either process).
 */
import { PerformanceObserver } from 'node:perf_hooks';

/** Epoch ms (performance.timeOrigin + now), comparable across processes on one machine. */
export const epochNow = () => performance.timeOrigin + performance.now();

/** One page's moments, epoch ms. */
export interface PageSpan { sent: number; firstByte: number; lastByte: number; parsed: number }

/** [start, end] of each collection, epoch ms. */
export type GcPauses = Array<[number, number]>;

/** Records this process's collections until stopped; `pauses` is filled as they happen. */
export function watchGc(): { pauses: GcPauses; stop(): void } {
  const pauses: GcPauses = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const start = performance.timeOrigin + entry.startTime;
      pauses.push([start, start + entry.duration]);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { pauses, stop: () => observer.disconnect() };
}

/** ms of `pauses` inside [from, to]. */
function overlap(pauses: GcPauses, from: number, to: number): number {
  let ms = 0;
  for (const [start, end] of pauses) ms += Math.max(0, Math.min(end, to) - Math.max(start, from));
  return ms;
}

interface Steps { page: number; firstByte: number; transfer: number; parse: number; readerGc: number; hostGc: number }

function steps(span: PageSpan, readerGc: GcPauses, hostGc: GcPauses): Steps {
  return {
    page: span.parsed - span.sent,
    firstByte: span.firstByte - span.sent,
    transfer: span.lastByte - span.firstByte,
    parse: span.parsed - span.lastByte,
    readerGc: overlap(readerGc, span.sent, span.parsed),
    hostGc: overlap(hostGc, span.sent, span.parsed),
  };
}

const mean = (rows: Steps[], key: keyof Steps) => rows.reduce((sum, r) => sum + r[key], 0) / Math.max(1, rows.length);

/** A markdown table: the median pages (p45–p55) and the slowest 1 %, each step's mean ms. */
export function slowPagesReport(spans: PageSpan[], readerGc: GcPauses, hostGc: GcPauses): string {
  const all = spans.map((s) => steps(s, readerGc, hostGc)).sort((a, b) => a.page - b.page);
  const median = all.slice(Math.floor(all.length * 0.45), Math.ceil(all.length * 0.55));
  const slowest = all.slice(Math.floor(all.length * 0.99));
  const keys: Array<keyof Steps> = ['page', 'firstByte', 'transfer', 'parse', 'readerGc', 'hostGc'];
  const row = (label: string, rows: Steps[]) => `| ${label} (${rows.length} pages) | ${keys.map((k) => mean(rows, k).toFixed(1)).join(' | ')} |`;
  const gcPages = (rows: Steps[], key: 'readerGc' | 'hostGc') => rows.filter((r) => r[key] > 0).length;
  return [
    '| bare reader, mean ms | whole page | to first byte | first → last byte | parse | GC in reader | GC in host |',
    '|---|---|---|---|---|---|---|',
    row('median pages (p45–p55)', median),
    row('slowest 1 %', slowest),
    `slowest 1 %: ${gcPages(slowest, 'readerGc')} overlapped a collection in the reader, ${gcPages(slowest, 'hostGc')} one in the host; median pages: ${gcPages(median, 'readerGc')} and ${gcPages(median, 'hostGc')}`,
  ].join('\n');
}
