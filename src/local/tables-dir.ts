import { fileURLToPath } from 'node:url';

/**
 * The project's own `tables/` directory, found from this file rather than the working directory,
 * so that `streamlake` reads the shipped declarations wherever it is run from.
 */
export const DEFAULT_TABLES_DIR = fileURLToPath(new URL('../../tables', import.meta.url));
