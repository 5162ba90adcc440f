import { resolve } from 'node:path';
import { assertCompatible, loadTables, type DeclaredTables } from '../lambdas/adapters/table-directory.ts';

/** The table the simulated device fleet produces: the stack deploys the log-generator only when it is declared. */
export const DEMO_TABLE = 'device_logs';

/**
 * The table declarations of `dir` (relative to the working directory, which is the project root
 * under `cdk`), refused with every reason when they change a deployed table in a way the lock file
 * beside them does not allow.
 */
export function deployableTables(dir: string): DeclaredTables {
  const declared = loadTables(resolve(dir));
  assertCompatible(declared);
  return declared;
}

/**
 * A table's name as a construct ID: `device_logs` → `DeviceLogs`. The logical IDs of a table's
 * stateful resources derive from it, so the mapping must never change; it is one-to-one because
 * table names are lowercase (an `_` not followed by a letter is kept).
 */
export function tableConstructId(table: string): string {
  return table.replace(/^[a-z]/, (first) => first.toUpperCase()).replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
