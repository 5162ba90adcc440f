import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IcebergTable } from '../../lambdas/adapters/iceberg-table.ts';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { StoreCatalog } from '../../lambdas/adapters/store-catalog.ts';
import { tableFormatOf } from '../../lambdas/adapters/table-formats.ts';
import { catalogKey, curatedPrefix } from '../../lambdas/core/lake-layout.ts';
import type { TableFormatName, TableSpec } from '../../lambdas/core/table-declaration.ts';
import type { Clock } from '../../lambdas/ports/clock.ts';
import type { TableFormat } from '../../lambdas/ports/table-format.ts';

/** A table asked for in one format in a lake that holds it in the other. */
export class TableFormatConflictError extends Error {
  override name = 'TableFormatConflictError';
}

/**
 * The local lake directory as the pipeline's store, with its Iceberg catalog (one pointer object
 * per table under `catalog/`) and the `file://` URI Iceberg metadata names its files by.
 */
export class LocalLake {
  readonly dir: string;
  readonly store: LocalDirectoryStore;
  readonly catalog: StoreCatalog;
  readonly lakeUri: string;

  constructor(dir: string) {
    this.dir = dir;
    this.store = new LocalDirectoryStore(dir);
    this.catalog = new StoreCatalog(this.store);
    this.lakeUri = `${pathToFileURL(dir).href}/`;
  }

  /** The format `table` is stored in here: Iceberg once its catalog entry exists, Hive-Parquet once it has `dt=` directories, undefined before its first run. */
  storedFormat(table: string): TableFormatName | undefined {
    if (existsSync(join(this.dir, `${catalogKey(table)}.versions`)) || existsSync(join(this.dir, catalogKey(table)))) return 'iceberg';
    const curated = join(this.dir, curatedPrefix(table));
    if (existsSync(curated) && readdirSync(curated).some((name) => name.startsWith('dt='))) return 'hive-parquet';
    return undefined;
  }

  /**
   * `table` as this lake stores it. A table's format is fixed by its first commit: the lake's
   * format wins over the declaration's default, and asking for the other one explicitly
   * (`requested`) is an error saying how to get a table in that format.
   */
  resolve(table: TableSpec, requested?: TableFormatName): TableSpec {
    const stored = this.storedFormat(table.name);
    if (stored !== undefined && requested !== undefined && stored !== requested) {
      throw new TableFormatConflictError(
        `${this.dir} holds ${table.name} in the ${stored} format, which a table keeps from its first run: ` +
          `use a new --data-dir for a ${requested} ${table.name}, or drop --table-format to go on with ${stored}`,
      );
    }
    const format = stored ?? requested ?? table.format;
    return format === table.format ? table : { ...table, format };
  }

  format(table: TableSpec, clock: Clock): TableFormat {
    return tableFormatOf(table, { store: this.store, catalog: this.catalog, lakeUri: this.lakeUri, clock });
  }

  iceberg(table: TableSpec): IcebergTable {
    return new IcebergTable({ store: this.store, catalog: this.catalog, lakeUri: this.lakeUri, clock: { now: Date.now } }, table);
  }
}
