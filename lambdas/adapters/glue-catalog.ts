import {
  AlreadyExistsException,
  ConcurrentModificationException,
  CreateTableCommand,
  EntityNotFoundException,
  GetTableCommand,
  UpdateTableCommand,
  type Column,
  type GlueClient,
  type Table,
  type TableInput,
} from '@aws-sdk/client-glue';
import { curatedPrefix } from '../core/lake-layout.ts';
import { glueType } from '../core/schema.ts';
import { tableColumns, type TableSpec } from '../core/table-declaration.ts';
import type { CatalogEntry, TableCatalog } from '../ports/table-catalog.ts';

/** The Glue table parameters of an Iceberg table, as Apache Iceberg's GlueCatalog and Athena read and write them. */
export const ICEBERG_PARAMETERS = {
  tableType: 'table_type',
  metadataLocation: 'metadata_location',
  previousMetadataLocation: 'previous_metadata_location',
} as const;
const ICEBERG_TABLE_TYPE = 'ICEBERG';

// Glue holds at most 255 characters of a column comment and 2048 of a table description.
const COMMENT_CHARS = 255;
const DESCRIPTION_CHARS = 2048;

/** A Glue table the catalog cannot use as an Iceberg table; the message says what to do. */
export class GlueCatalogError extends Error {
  override name = 'GlueCatalogError';
}

export interface GlueCatalogOptions {
  /** The Glue database the tables live in. */
  readonly database: string;
  /** The URI of the lake bucket's root, ending in `/` (`s3://bucket/`): a table's location is its curated prefix under it. */
  readonly lakeUri: string;
  /** The declarations of the tables this catalog may create: their columns and descriptions. */
  readonly tables: readonly TableSpec[];
}

/**
 * The Iceberg catalog on AWS: the Glue Data Catalog, where each table is a Glue table of type
 * `ICEBERG` whose `metadata_location` parameter names its current metadata file, as Athena, Trino,
 * Spark and Apache Iceberg's own GlueCatalog expect.
 *
 * The compare-and-swap is Glue's optimistic locking. Every Glue table has a `VersionId`; an
 * UpdateTable that names the `VersionId` it read is applied only if the table is still at that
 * version, and fails with ConcurrentModificationException otherwise. That is the commit protocol of
 * Apache Iceberg's GlueTableOperations ("Optimistic Locking", https://iceberg.apache.org/docs/latest/aws/#optimistic-locking;
 * `VersionId`, "the version ID at which to update the table contents", in
 * https://docs.aws.amazon.com/glue/latest/webapi/API_UpdateTable.html). The first commit creates the
 * table, and CreateTable of an existing name fails with AlreadyExistsException: both failures are a
 * lost race, which the caller answers by reloading the table.
 *
 * Updates skip Glue's archived table versions (`SkipArchive`, as Iceberg's `glue.skip-archive`
 * defaults to): a commit every few minutes would otherwise fill the per-table version quota; the
 * Iceberg metadata log keeps the history.
 */
export class GlueCatalog implements TableCatalog {
  private readonly client: GlueClient;
  private readonly options: GlueCatalogOptions;
  private readonly specs: ReadonlyMap<string, TableSpec>;
  // The Glue table each `get` found, so an update keeps the parameters others set on it (Athena, Lake Formation, table optimizers).
  private readonly seen = new Map<string, Table>();

  constructor(client: GlueClient, options: GlueCatalogOptions) {
    this.client = client;
    this.options = options;
    this.specs = new Map(options.tables.map((table) => [table.name, table]));
  }

  async get(table: string): Promise<CatalogEntry | undefined> {
    const found = await this.read(table);
    if (!found) return undefined;
    const metadataLocation = found.Parameters?.[ICEBERG_PARAMETERS.metadataLocation];
    if (found.Parameters?.[ICEBERG_PARAMETERS.tableType]?.toUpperCase() !== ICEBERG_TABLE_TYPE || !metadataLocation) {
      throw new GlueCatalogError(
        `Glue table ${this.options.database}.${table} is not an Iceberg table (no table_type ICEBERG with a metadata_location); ` +
          'a Hive table of the same name is in the way: deploy the stack with the declaration\'s format (cdk deploy removes the Hive table), or delete that Glue table',
      );
    }
    // Never swap without a version: an UpdateTable without VersionId would overwrite a concurrent commit.
    if (!found.VersionId) throw new GlueCatalogError(`Glue returned table ${this.options.database}.${table} without a VersionId, which its commits need for optimistic locking`);
    this.seen.set(table, found);
    return { metadataLocation, version: found.VersionId };
  }

  async swap(table: string, metadataLocation: string, expected: CatalogEntry | undefined): Promise<boolean> {
    try {
      if (expected === undefined) {
        await this.client.send(new CreateTableCommand({ DatabaseName: this.options.database, TableInput: this.tableInput(table, { [ICEBERG_PARAMETERS.metadataLocation]: metadataLocation }) }));
      } else {
        const seen = this.seen.get(table);
        const kept = seen?.VersionId === expected.version ? seen.Parameters : undefined;
        await this.client.send(
          new UpdateTableCommand({
            DatabaseName: this.options.database,
            TableInput: this.tableInput(table, { ...kept, [ICEBERG_PARAMETERS.metadataLocation]: metadataLocation, [ICEBERG_PARAMETERS.previousMetadataLocation]: expected.metadataLocation }),
            VersionId: expected.version,
            SkipArchive: true,
          }),
        );
      }
      return true;
    } catch (error) {
      // Glue answers a create of an existing name with AlreadyExistsException, an update at a stale
      // VersionId (or one racing another writer's) with ConcurrentModificationException.
      if (!(error instanceof AlreadyExistsException || error instanceof ConcurrentModificationException)) throw error;
      // The SDK resends a request whose response was lost: the first send may have been applied and
      // the resend then fails against our own commit. Metadata file names are unique, so the table
      // pointing at ours means the commit is ours.
      return wasRetried(error) && (await this.read(table))?.Parameters?.[ICEBERG_PARAMETERS.metadataLocation] === metadataLocation;
    }
  }

  private async read(table: string): Promise<Table | undefined> {
    try {
      return (await this.client.send(new GetTableCommand({ DatabaseName: this.options.database, Name: table }))).Table;
    } catch (error) {
      if (error instanceof EntityNotFoundException) return undefined;
      throw error;
    }
  }

  // The whole table as Glue should hold it: UpdateTable replaces the table's definition, it does not merge into it.
  private tableInput(table: string, parameters: Record<string, string>): TableInput {
    const spec = this.specs.get(table);
    if (!spec) throw new GlueCatalogError(`the Glue catalog was given no declaration of table ${table}; pass it in GlueCatalogOptions.tables`);
    return {
      Name: table,
      Description: clip(`${spec.description ? `${spec.description} ` : ''}Apache Iceberg table of topic ${spec.topic}, written by the streamlake compactor.`, DESCRIPTION_CHARS),
      TableType: 'EXTERNAL_TABLE',
      Parameters: { ...parameters, [ICEBERG_PARAMETERS.tableType]: ICEBERG_TABLE_TYPE },
      // Columns for the console and for tools that list them; Iceberg readers take the schema from the metadata file.
      StorageDescriptor: { Location: `${this.options.lakeUri}${curatedPrefix(table).slice(0, -1)}`, Columns: glueColumns(spec) },
    };
  }
}

/** A table's columns in Glue's (Hive) types, as the Hive-Parquet tables declare them. */
export function glueColumns(spec: TableSpec): Column[] {
  return tableColumns(spec).map((column) => ({ Name: column.name, Type: glueType(column), Comment: clip(column.description, COMMENT_CHARS) }));
}

function clip(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

/** Whether the SDK sent the request more than once before this error (it records its attempts on the error). */
function wasRetried(error: unknown): boolean {
  return ((error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1) > 1;
}
