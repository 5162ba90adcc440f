import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TABLES_DIR } from './tables.ts';

const ORDERS_FIXTURE = fileURLToPath(new URL('../fixtures/tables-orders', import.meta.url));

/**
 * Fills `dir` with table declarations for a test to change: the shipped `device_logs` (its
 * declaration, named queries and lock file) and, when asked, the `orders` fixture beside it.
 */
export function copyTables(dir: string, options: { deviceLogs?: boolean; orders?: boolean } = {}): string {
  if (options.deviceLogs ?? true) {
    for (const name of ['device_logs.schema.json', 'device_logs', 'tables.lock.json']) cpSync(join(TABLES_DIR, name), join(dir, name), { recursive: true });
  }
  if (options.orders) for (const name of ['orders.schema.json', 'orders']) cpSync(join(ORDERS_FIXTURE, name), join(dir, name), { recursive: true });
  return dir;
}

/** Rewrites the declaration `<table>.schema.json` in `dir` with `change` applied to its parsed JSON. */
export function editDeclaration(dir: string, table: string, change: (declaration: Record<string, any>) => void): void {
  const path = join(dir, `${table}.schema.json`);
  const declaration = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
  change(declaration);
  writeFileSync(path, `${JSON.stringify(declaration, null, 2)}\n`);
}
