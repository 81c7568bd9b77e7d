/** Paging for lists the API returns whole (connections, deploys): numbered pages of a fixed size. */
import { html } from 'hono/html';
import { href, type Html } from '../layout.ts';

export interface Paged<T> { items: T[]; page: number; pages: number }

export function pageOf<T>(all: T[], pageParam: string | undefined, size: number): Paged<T> {
  const pages = Math.max(1, Math.ceil(all.length / size));
  const wanted = Number.parseInt(pageParam ?? '1', 10);
  const page = Number.isFinite(wanted) ? Math.min(Math.max(1, wanted), pages) : 1;
  return { items: all.slice((page - 1) * size, page * size), page, pages };
}

export function pager(paged: Paged<unknown>, path: string): Html | string {
  if (paged.pages <= 1) return '';
  const link = (page: number, label: string) => html`<a href="${href(`${path}${path.includes('?') ? '&' : '?'}page=${page}`)}">${label}</a>`;
  return html`<nav class="pager">${paged.page > 1 ? link(paged.page - 1, '← Previous') : ''}<span class="muted">page ${paged.page} of ${paged.pages}</span>${paged.page < paged.pages ? link(paged.page + 1, 'Next →') : ''}</nav>`;
}
