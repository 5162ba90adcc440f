import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import {
  bucketOfKey,
  curatedLocationTemplate,
  curatedPrefix,
  HOUR_DIGITS,
  partitionKeys,
  quarantineLocationTemplate,
  quarantinePrefix,
} from '../../lambdas/core/lake-layout.ts';
import { QUARANTINE_COLUMNS, QUARANTINE_PARTITION_KEYS, trinoType, type ColumnShape } from '../../lambdas/core/schema.ts';
import { tableColumns, type TableSpec } from '../../lambdas/core/table-declaration.ts';
import { queryTrino, type TrinoSession } from '../../tools/trino/client.ts';
import { localLocation } from '../../tools/trino/server.ts';

type Column = ColumnShape & { readonly name: string };
/** A session whose schema is the Glue database. */
type LakeSession = TrinoSession & { readonly schema: string };

/**
 * Declares the local lake in Trino as lib/query/lake-catalog.ts declares the S3 lake in Glue: the
 * database (the session's schema), each declared table and its quarantine table with their columns
 * and partition keys from the declarations, their storage formats, and the lake directory standing
 * for the bucket. Glue projects partitions; here each partition directory is registered with its
 * key values and the location projection gives those values (`hour` 9 is `hour=09/`).
 */
export async function declareLake(session: LakeSession, lakeDir: string, tables: readonly TableSpec[]): Promise<void> {
  const bucket = `${localLocation(lakeDir)}/`;
  const store = new LocalDirectoryStore(lakeDir);
  await queryTrino(session, `CREATE SCHEMA ${session.schema}`);
  for (const table of tables) {
    const name = table.name;
    // PARQUET and OPENX_JSON are the Hive formats whose serdes Glue declares: ParquetHiveSerDe and org.openx.data.jsonserde.JsonSerDe.
    await queryTrino(session, createTable(name, tableColumns(table), partitionKeys(table.partitionBy), 'PARQUET', `${bucket}${curatedPrefix(name)}`));

    const buckets = new Map((await store.list(curatedPrefix(name))).map(({ key }) => bucketOfKey(key)!).map((b) => [`${b.dt}/${b.hour}`, b]));
    for (const { dt, hour } of buckets.values()) {
      // Partition values as Hive keeps them (`hour` 9), located where projection puts them (`hour=09/`).
      const values: Record<string, string> = hour === undefined ? { dt } : { dt, hour: String(hour) };
      const projected: Record<string, string> = hour === undefined ? { dt } : { dt, hour: String(hour).padStart(HOUR_DIGITS, '0') };
      await registerPartition(session, name, values, `${bucket}${projectedLocation(curatedLocationTemplate(table), projected)}`);
    }
    await declareQuarantine(session, lakeDir, name);
  }
}

/**
 * Declares `<table>_quarantine` over the quarantine NDJSON of `table` in the local lake, as
 * lib/query/lake-catalog.ts declares it in Glue: the quarantine is Hive-style NDJSON whatever the
 * table's format. The session's schema must exist.
 */
export async function declareQuarantine(session: LakeSession, lakeDir: string, table: string): Promise<void> {
  const bucket = `${localLocation(lakeDir)}/`;
  // Glue declares the location whether or not anything was quarantined yet; Trino wants the directory to exist.
  await mkdir(join(lakeDir, quarantinePrefix(table)), { recursive: true });
  await queryTrino(session, createTable(`${table}_quarantine`, QUARANTINE_COLUMNS, QUARANTINE_PARTITION_KEYS, 'OPENX_JSON', `${bucket}${quarantinePrefix(table)}`));
  const days = new Set((await new LocalDirectoryStore(lakeDir).list(quarantinePrefix(table))).map(({ key }) => /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)![1]!));
  for (const dt of days) {
    await registerPartition(session, `${table}_quarantine`, { dt }, `${bucket}${projectedLocation(quarantineLocationTemplate(table), { dt })}`);
  }
}

/**
 * Registers an Iceberg table the pipeline wrote in Trino's Iceberg catalog (the session's), as a
 * reader that does not know our catalog opens it: from the metadata file its catalog entry
 * points at (`CALL system.register_table`, which takes the table's location and the file's name
 * in its `metadata/` directory). Returns the metadata file's location.
 */
export async function registerIcebergTable(session: LakeSession, table: string, metadataLocation: string): Promise<string> {
  const [, location, file] = /^(.*)\/metadata\/([^/]+\.metadata\.json)$/.exec(metadataLocation)!;
  await queryTrino(session, `CALL system.register_table(schema_name => '${session.schema}', table_name => '${table}', table_location => '${location}', metadata_file_name => '${file}')`);
  return metadataLocation;
}

function createTable(name: string, columns: readonly Column[], partitionKeys: readonly Column[], format: string, location: string): string {
  return `CREATE TABLE ${name} (
  ${[...columns, ...partitionKeys].map((c) => `${c.name} ${trinoType(c)}`).join(',\n  ')}
) WITH (
  format = '${format}',
  partitioned_by = ARRAY[${partitionKeys.map((k) => `'${k.name}'`).join(', ')}],
  external_location = '${location}'
)`;
}

/** A `storage.location.template` with its `${key}` placeholders replaced as projection does. */
function projectedLocation(template: string, values: Record<string, string>): string {
  return template.replace(/\$\{(\w+)\}/g, (_, key: string) => values[key]!);
}

async function registerPartition(session: LakeSession, table: string, values: Record<string, string>, location: string): Promise<void> {
  const array = (items: readonly string[]) => `ARRAY[${items.map((item) => `'${item}'`).join(', ')}]`;
  await queryTrino(session, `CALL system.register_partition('${session.schema}', '${table}', ${array(Object.keys(values))}, ${array(Object.values(values))}, '${location}')`);
}
