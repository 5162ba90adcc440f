import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { curatedLocationTemplate, curatedPrefix, HOUR_DIGITS, partitionKeys, quarantineLocationTemplate, quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import type { NamedQuery } from '../../lambdas/core/queries.ts';
import { glueType, QUARANTINE_COLUMNS, QUARANTINE_PARTITION_KEYS, type ColumnSpec } from '../../lambdas/core/schema.ts';
import { tableColumns, type TableSpec } from '../../lambdas/core/table-declaration.ts';
import { ATHENA_RESULTS_PREFIX } from '../lake/lake-storage.ts';
import { tableConstructId } from '../tables.ts';

/** First day partition projection offers: queries filter `dt` within [this, today]. */
export const PROJECTION_FIRST_DAY = '2024-01-01';

export interface LakeCatalogProps {
  readonly lakeBucket: s3.IBucket;
  readonly resultsBucket: s3.IBucket;
  /** The declared tables: each gets a quarantine table, and a Hive-Parquet table its Glue table (an Iceberg table's compactor creates its own). Required. */
  readonly tables: readonly TableSpec[];
  /** The declared tables' named queries, each deployed as an Athena named query. Required. */
  readonly queries: readonly NamedQuery[];
  /** @default DEFAULTS.glueDatabase */
  readonly databaseName: string;
  /** @default DEFAULTS.athenaWorkgroup */
  readonly workgroupName: string;
  /** @default DEFAULTS.athenaBytesScannedCutoffMB */
  readonly bytesScannedCutoffMB: number;
  /** Key of the results bucket, to encrypt query results with. @default S3-managed encryption */
  readonly encryptionKey?: kms.IKey;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The Glue tables of one declared table. */
export interface CatalogTables {
  /**
   * `<table>` of a Hive-Parquet table: Parquet, partition projection on the event time. Absent for
   * an Iceberg table, whose Glue table (type ICEBERG) its compactor creates at its first commit and
   * moves at every commit after: a table in the template would be reset by every deploy.
   */
  readonly table?: glue.CfnTable;
  /** `<table>_quarantine`: the records its compactor rejected, NDJSON. */
  readonly quarantine: glue.CfnTable;
}

/** Projection of the `dt` partition (yyyy-MM-dd, one per day), shared by every table. */
const DATE_PROJECTION = {
  EXTERNAL: 'TRUE',
  'projection.enabled': 'true',
  'projection.dt.type': 'date',
  'projection.dt.format': 'yyyy-MM-dd',
  'projection.dt.range': `${PROJECTION_FIRST_DAY},NOW`,
  'projection.dt.interval': '1',
  'projection.dt.interval.unit': 'DAYS',
};

const HOUR_PROJECTION = { 'projection.hour.type': 'integer', 'projection.hour.range': '0,23', 'projection.hour.digits': String(HOUR_DIGITS) };

// Glue holds at most 255 characters of a column comment and 2048 of a table description.
const COMMENT_CHARS = 255;
const DESCRIPTION_CHARS = 2048;

/** `text`, cut to `chars` characters (ending in an ellipsis) when longer. */
export function clip(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

function columns(specs: readonly Pick<ColumnSpec, 'name' | 'type' | 'description'>[]): glue.CfnTable.ColumnProperty[] {
  return specs.map((column) => ({ name: column.name, type: glueType(column), comment: clip(column.description, COMMENT_CHARS) }));
}

/**
 * The catalog and query side: a Glue database with, per declared table, `<table>` (for a
 * Hive-Parquet table: Parquet, partition projection on `dt` and, for hourly tables, `hour`, so new
 * partitions are queryable without any registration; an Iceberg table's compactor creates its own)
 * and `<table>_quarantine` (NDJSON); an Athena engine v3 workgroup with
 * enforced, encrypted results and a per-query scan limit; and the tables' named queries. Columns
 * come from the declarations; location templates from the lake layout the compactors write.
 */
export class LakeCatalog extends Construct {
  readonly database: glue.CfnDatabase;
  /** The Glue tables of each declared table, by table name. */
  readonly tables: ReadonlyMap<string, CatalogTables>;
  readonly workgroup: athena.CfnWorkGroup;

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: props.databaseName, description: 'streamlake: events compacted from Kafka, one table per declaration' },
    });
    this.database.applyRemovalPolicy(removalPolicy);
    this.tables = new Map(props.tables.map((table) => [table.name, this.catalogTables(table, props)]));
    for (const { table, quarantine } of this.tables.values()) {
      for (const resource of table ? [table, quarantine] : [quarantine]) {
        resource.node.addDependency(this.database);
        resource.applyRemovalPolicy(removalPolicy);
      }
    }

    this.workgroup = new athena.CfnWorkGroup(this, 'Workgroup', {
      name: props.workgroupName,
      description: 'streamlake queries: engine v3, encrypted results, per-query scan limit',
      state: 'ENABLED',
      recursiveDeleteOption: removalPolicy === RemovalPolicy.DESTROY,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffMB * 1024 * 1024,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${props.resultsBucket.bucketName}/${ATHENA_RESULTS_PREFIX}`,
          encryptionConfiguration: props.encryptionKey
            ? { encryptionOption: 'SSE_KMS', kmsKey: props.encryptionKey.keyArn }
            : { encryptionOption: 'SSE_S3' },
        },
      },
    });
    this.workgroup.applyRemovalPolicy(removalPolicy);

    // Query names are unique in a deployment (loadTables checks), so a query keeps its ID when tables come and go.
    for (const query of props.queries) {
      new athena.CfnNamedQuery(this, `Query-${query.name}`, {
        name: query.name,
        description: query.description,
        database: props.databaseName,
        workGroup: this.workgroup.ref,
        queryString: query.sql,
      });
    }
  }

  /** The Glue database's name, as a reference: what uses it is created after the database. */
  get databaseName(): string {
    return this.database.ref;
  }

  /**
   * Lets a writer of Iceberg table `table` commit it: read and update that one Glue table and, with
   * `create` (its compactor, whose first commit creates it), create it. Glue checks each of these
   * on the catalog, the database and the table; nothing of any other table is granted.
   */
  grantIcebergCommit(grantee: iam.IGrantable, table: string, options: { create: boolean } = { create: true }): iam.Grant {
    const stack = Stack.of(this);
    const database = this.database.ref;
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetTable', ...(options.create ? ['glue:CreateTable'] : []), 'glue:UpdateTable'],
      resourceArns: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: database }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${database}/${table}` }),
      ],
    });
  }

  // The construct IDs derive from the table name: they pin the logical IDs of existing tables.
  private catalogTables(spec: TableSpec, props: LakeCatalogProps): CatalogTables {
    const bucketUrl = `s3://${props.lakeBucket.bucketName}/`;
    const id = tableConstructId(spec.name);
    const table = spec.format === 'iceberg' ? undefined : new glue.CfnTable(this, id, {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: props.databaseName,
      tableInput: {
        name: spec.name,
        description: clip(`${spec.description ? `${spec.description} ` : ''}One row per Kafka record of topic ${spec.topic}; (kafka_partition, kafka_offset) is unique.`, DESCRIPTION_CHARS),
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: columns(partitionKeys(spec.partitionBy)),
        parameters: {
          classification: 'parquet',
          ...DATE_PROJECTION,
          ...(spec.partitionBy === 'hour' ? HOUR_PROJECTION : {}),
          'storage.location.template': `${bucketUrl}${curatedLocationTemplate(spec)}`,
        },
        storageDescriptor: {
          columns: columns(tableColumns(spec)),
          location: `${bucketUrl}${curatedPrefix(spec.name)}`,
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        },
      },
    });
    const quarantine = new glue.CfnTable(this, `${id}Quarantine`, {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: props.databaseName,
      tableInput: {
        name: `${spec.name}_quarantine`,
        description: `Records of topic ${spec.topic} the compactor rejected, with the reason and their raw bytes (base64).`,
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: columns(QUARANTINE_PARTITION_KEYS),
        parameters: {
          classification: 'json',
          ...DATE_PROJECTION,
          'storage.location.template': `${bucketUrl}${quarantineLocationTemplate(spec.name)}`,
        },
        storageDescriptor: {
          columns: columns(QUARANTINE_COLUMNS),
          location: `${bucketUrl}${quarantinePrefix(spec.name)}`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
        },
      },
    });
    return { table, quarantine };
  }
}
