import { fileURLToPath } from 'node:url';
import { loadTables, tableNamed } from '../../lambdas/adapters/table-directory.ts';

/** The project's shipped table declarations (`tables/`). */
export const TABLES_DIR = fileURLToPath(new URL('../../tables', import.meta.url));
export const DECLARED = loadTables(TABLES_DIR);
/** The demo table the simulated fleet produces. */
export const DEVICE_LOGS = tableNamed(DECLARED, 'device_logs');
