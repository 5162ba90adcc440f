/** Renders rows as an aligned text table: numbers right-aligned, nulls shown as NULL. */
export function formatTable(columns: readonly string[], rows: readonly Record<string, unknown>[], maxRows = Infinity): string {
  const shown = rows.slice(0, maxRows);
  const cells = shown.map((row) => columns.map((column) => formatCell(row[column])));
  const numeric = columns.map((column) => shown.length > 0 && shown.every((row) => row[column] === null || typeof row[column] === 'number'));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((value, i) => (numeric[i] ? value.padStart(widths[i]!) : value.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line([...columns]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  if (rows.length > shown.length) out.push(`… ${rows.length - shown.length} more rows`);
  if (rows.length === 0) out.push('(no rows)');
  return out.join('\n');
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)) return value.replace('T', ' ').replace('.000Z', '').replace('Z', '');
  return String(value);
}

/** 1234567 → "1.2 MB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  // Compare the value as it will print, so 999,999 bytes shows as 1.0 MB, not 1000.0 KB.
  while (Number(value.toFixed(1)) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** 0.49 → "$0.49"; amounts under a cent keep two significant digits: 0.0000477 → "$0.000048". */
export function formatUsd(usd: number): string {
  return `$${usd === 0 || usd >= 0.01 ? usd.toFixed(2) : usd.toPrecision(2)}`;
}
