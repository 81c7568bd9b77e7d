/**
 * Peak memory and duration of a sync's last runs as inline SVG: a bar per run (its peak heap),
 * the run's memory limit as a line above it, and its wall time as dots on a second scale.
 */
import { html } from 'hono/html';
import type { Run } from './api-types.ts';
import { formatBytes, formatMs, type Html } from './layout.ts';

const MiB = 1024 * 1024;
const W = 760, H = 200, LEFT = 56, RIGHT = 56, TOP = 14, BOTTOM = 24;

export function runChart(newestFirst: Run[]): Html | string {
  const runs = newestFirst.filter((r) => r.usage !== null).slice(0, 40).reverse();
  if (runs.length === 0) return html`<p class="muted">No finished runs to chart yet.</p>`;
  const peakMb = (r: Run) => (r.usage?.peak_heap_bytes ?? 0) / MiB;
  const maxMb = Math.max(...runs.map((r) => Math.max(peakMb(r), r.memory_limit_mb ?? 0)), 1) * 1.1;
  const maxMs = Math.max(...runs.map((r) => r.usage?.wall_ms ?? 0), 1) * 1.1;
  const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
  const slot = plotW / runs.length, barW = Math.max(2, Math.min(24, slot * 0.6));
  const yMb = (mb: number) => TOP + plotH - (mb / maxMb) * plotH;
  const yMs = (ms: number) => TOP + plotH - (ms / maxMs) * plotH;
  const x = (i: number) => LEFT + slot * i + slot / 2;
  const f = (n: number) => n.toFixed(1);

  const bars = runs.map((r, i) => html`<rect class="peak" data-run="${r.id}" x="${f(x(i) - barW / 2)}" y="${f(yMb(peakMb(r)))}" width="${f(barW)}" height="${f(TOP + plotH - yMb(peakMb(r)))}" fill="${r.status === 'failed' ? '#e57373' : '#7b9ae0'}"><title>run ${r.id}: peak ${formatBytes(r.usage?.peak_heap_bytes)} of ${r.memory_limit_mb ?? '?'} MiB, ${formatMs(r.usage?.wall_ms)}</title></rect>`);
  const limits = runs.map((r, i) => r.memory_limit_mb === null ? ''
    : html`<line class="limit" x1="${f(x(i) - slot / 2)}" x2="${f(x(i) + slot / 2)}" y1="${f(yMb(r.memory_limit_mb))}" y2="${f(yMb(r.memory_limit_mb))}" stroke="#c62828" stroke-dasharray="4 3"/>`);
  const durationPath = runs.map((r, i) => `${i === 0 ? 'M' : 'L'}${f(x(i))},${f(yMs(r.usage?.wall_ms ?? 0))}`).join(' ');
  const dots = runs.map((r, i) => html`<circle class="duration" cx="${f(x(i))}" cy="${f(yMs(r.usage?.wall_ms ?? 0))}" r="3" fill="#1d2330"/>`);
  const lastLimit = runs.findLast((r) => r.memory_limit_mb !== null)?.memory_limit_mb;

  return html`<svg class="chart" role="img" aria-label="Peak memory and duration of the last ${runs.length} runs" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-size="11" font-family="system-ui, sans-serif">
<line x1="${LEFT}" x2="${W - RIGHT}" y1="${TOP + plotH}" y2="${TOP + plotH}" stroke="#c9ced8"/>
<text x="4" y="${TOP + 8}" fill="#2f5bd3">${f(maxMb)} MiB</text><text x="4" y="${TOP + plotH}" fill="#2f5bd3">0</text>
<text x="${W - RIGHT + 4}" y="${TOP + 8}" fill="#1d2330">${formatMs(maxMs)}</text><text x="${W - RIGHT + 4}" y="${TOP + plotH}">0</text>
${bars}${limits}
<path d="${durationPath}" fill="none" stroke="#1d2330" stroke-width="1.2"/>${dots}
<text x="${LEFT}" y="${H - 6}" fill="#667085">bars: peak memory${lastLimit ? ` (dashed: memory limit, ${lastLimit} MiB)` : ''} · line: wall time · oldest → newest</text>
</svg>`;
}
