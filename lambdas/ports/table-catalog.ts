/** Where a catalog says a table's current metadata is, and the version a swap checks against. */
export interface CatalogEntry {
  /** URI of the current metadata file. */
  readonly metadataLocation: string;
  readonly version: string;
}

/**
 * An Iceberg catalog: per table, a pointer to its current metadata file that moves only by
 * compare-and-swap. Swapping the pointer is the commit of a snapshot.
 */
export interface TableCatalog {
  get(table: string): Promise<CatalogEntry | undefined>;
  /** Points `table` at `metadataLocation` if it still is at `expected` (undefined: only if the table does not exist); false when another writer moved it first. */
  swap(table: string, metadataLocation: string, expected: CatalogEntry | undefined): Promise<boolean>;
}
