import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';

/** Copies objects of `store` into `dir` under their keys, so that DuckDB reads them as files (of a lake on S3, too); resolves to each file's path. */
export function storeFilesIn(store: ObjectStore, dir: string): (key: string) => Promise<string> {
  return async (key) => {
    const path = join(dir, ...key.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, (await store.get(key))!.body);
    return path;
  };
}

/** A SQL string literal. */
export function sqlLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
