import type { TableCompaction } from '../local/runner.ts';
import { formatTable } from './table.ts';

/** Prints a line of the command's result on stdout. */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Prints a value as indented JSON on stdout. */
export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Prints query rows as an aligned table, or as JSON. */
export function printRows(columns: readonly string[], rows: readonly Record<string, unknown>[], json: boolean | undefined): void {
  if (json) printJson(rows);
  else print(formatTable(columns, rows));
}

/** Progress on stderr: one rewritten line on a terminal; on anything else, only the lines that are steps. */
export function progressLine(text: string, step: boolean): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
  else if (step) process.stderr.write(`${text}\n`);
}

/** Clears the progress line before the result is printed. */
export function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

/** A note for the person at the terminal, on stderr, so that stdout stays the result. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** One line per compactor run, as `local` and `compact` print them. */
export function describeCompaction({ table, report, shard }: TableCompaction): string {
  return `compactor run ${report.sequence} of ${table}${shard === undefined ? '' : ` shard ${shard}`}: ${report.rowsWritten} rows in ${report.files.length} files, ${report.quarantined} quarantined`;
}
