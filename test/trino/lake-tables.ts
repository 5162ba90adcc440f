import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { bucketOfKey, CURATED_LOCATION_TEMPLATE, CURATED_PREFIX, HOUR_DIGITS, QUARANTINE_LOCATION_TEMPLATE, QUARANTINE_PREFIX, TABLE } from '../../lambdas/core/lake-layout.ts';
import { PARTITION_KEYS, QUARANTINE_COLUMNS, QUARANTINE_PARTITION_KEYS, TABLE_COLUMNS, trinoType, type ColumnType } from '../../lambdas/core/schema.ts';
import { queryTrino, type TrinoSession } from '../../tools/trino/client.ts';
import { localLocation } from '../../tools/trino/server.ts';

type Column = { readonly name: string; readonly type: ColumnType };
/** A session whose schema is the Glue database. */
type LakeSession = TrinoSession & { readonly schema: string };

/**
 * Declares the local lake in Trino as lib/query/lake-catalog.ts declares the S3 lake in Glue: the
 * database (the session's schema), both tables with their columns and partition keys from the one
 * schema module, their storage formats, and the lake directory standing for the bucket. Glue
 * projects partitions; here each partition directory is registered with its key values and the
 * location projection gives those values (`hour` 9 is `hour=09/`).
 */
export async function declareLake(session: LakeSession, lakeDir: string): Promise<void> {
  const bucket = `${localLocation(lakeDir)}/`;
  const store = new LocalDirectoryStore(lakeDir);
  await queryTrino(session, `CREATE SCHEMA ${session.schema}`);
  // PARQUET and OPENX_JSON are the Hive formats whose serdes Glue declares: ParquetHiveSerDe and org.openx.data.jsonserde.JsonSerDe.
  await queryTrino(session, createTable(TABLE, TABLE_COLUMNS, PARTITION_KEYS, 'PARQUET', `${bucket}${CURATED_PREFIX}`));
  await queryTrino(session, createTable(`${TABLE}_quarantine`, QUARANTINE_COLUMNS, QUARANTINE_PARTITION_KEYS, 'OPENX_JSON', `${bucket}${QUARANTINE_PREFIX}`));

  const hours = new Map((await store.list(CURATED_PREFIX)).map(({ key }) => bucketOfKey(key)!).map((b) => [`${b.dt}/${b.hour}`, b]));
  for (const { dt, hour } of hours.values()) {
    const location = projectedLocation(CURATED_LOCATION_TEMPLATE, { dt, hour: String(hour).padStart(HOUR_DIGITS, '0') });
    await registerPartition(session, TABLE, { dt, hour: String(hour) }, `${bucket}${location}`);
  }
  const days = new Set((await store.list(QUARANTINE_PREFIX)).map(({ key }) => /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)![1]!));
  for (const dt of days) {
    await registerPartition(session, `${TABLE}_quarantine`, { dt }, `${bucket}${projectedLocation(QUARANTINE_LOCATION_TEMPLATE, { dt })}`);
  }
}

function createTable(name: string, columns: readonly Column[], partitionKeys: readonly Column[], format: string, location: string): string {
  return `CREATE TABLE ${name} (
  ${[...columns, ...partitionKeys].map((c) => `${c.name} ${trinoType(c.type)}`).join(',\n  ')}
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
