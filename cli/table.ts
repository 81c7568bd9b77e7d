/** A compact fixed-width table for terminal output: long cells are cut with an ellipsis. */
export function formatTable(rows: Array<Record<string, unknown>>, options: { columns?: string[]; maxWidth?: number } = {}): string {
  const maxWidth = options.maxWidth ?? 28;
  const columns = options.columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (value: unknown): string => {
    const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    const flat = text.replace(/\s+/g, ' ');
    return flat.length > maxWidth ? `${flat.slice(0, maxWidth - 1)}…` : flat;
  };
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((r) => (r[i] as string).length)));
  const render = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [render(columns), render(widths.map((w) => '-'.repeat(w))), ...cells.map(render)].join('\n');
}
