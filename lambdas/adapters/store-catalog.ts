import { catalogKey } from '../core/lake-layout.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { CatalogEntry, TableCatalog } from '../ports/table-catalog.ts';

/**
 * The Iceberg catalog kept in the lake itself: one small JSON object a table, `catalog/<table>.json`,
 * naming the current metadata file, moved by the store's compare-and-swap (S3 `If-Match`, or the
 * local directory's atomic links). Any Iceberg reader can open the table from the metadata file it names.
 */
export class StoreCatalog implements TableCatalog {
  private readonly store: ObjectStore;

  constructor(store: ObjectStore) {
    this.store = store;
  }

  async get(table: string): Promise<CatalogEntry | undefined> {
    const object = await this.store.get(catalogKey(table));
    if (!object) return undefined;
    const pointer = JSON.parse(new TextDecoder().decode(object.body)) as { 'metadata-location': string };
    return { metadataLocation: pointer['metadata-location'], version: object.etag };
  }

  async swap(table: string, metadataLocation: string, expected: CatalogEntry | undefined): Promise<boolean> {
    const body = new TextEncoder().encode(`${JSON.stringify({ 'metadata-location': metadataLocation })}\n`);
    return (await this.store.compareAndSwap(catalogKey(table), body, expected?.version ?? null)).ok;
  }
}
