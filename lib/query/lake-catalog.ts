import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CURATED_LOCATION_TEMPLATE, CURATED_PREFIX, HOUR_DIGITS, QUARANTINE_LOCATION_TEMPLATE, QUARANTINE_PREFIX, TABLE } from '../../lambdas/core/lake-layout.ts';
import { NAMED_QUERIES } from '../../lambdas/core/queries.ts';
import { glueType, PARTITION_KEYS, QUARANTINE_COLUMNS, QUARANTINE_PARTITION_KEYS, TABLE_COLUMNS, type ColumnSpec } from '../../lambdas/core/schema.ts';
import { ATHENA_RESULTS_PREFIX } from '../lake/lake-storage.ts';

/** First day partition projection offers: queries filter `dt` within [this, today]. */
export const PROJECTION_FIRST_DAY = '2024-01-01';

export interface LakeCatalogProps {
  readonly lakeBucket: s3.IBucket;
  readonly resultsBucket: s3.IBucket;
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

/** Projection of the `dt` partition (yyyy-MM-dd, one per day), shared by both tables. */
const DATE_PROJECTION = {
  EXTERNAL: 'TRUE',
  'projection.enabled': 'true',
  'projection.dt.type': 'date',
  'projection.dt.format': 'yyyy-MM-dd',
  'projection.dt.range': `${PROJECTION_FIRST_DAY},NOW`,
  'projection.dt.interval': '1',
  'projection.dt.interval.unit': 'DAYS',
};

function columns(specs: readonly Pick<ColumnSpec, 'name' | 'type' | 'description'>[]): glue.CfnTable.ColumnProperty[] {
  return specs.map((c) => ({ name: c.name, type: glueType(c.type), comment: c.description }));
}

/**
 * The catalog and query side: a Glue database with `device_logs` (Parquet, partition projection on
 * `dt`/`hour`, so new hours are queryable without any registration) and `device_logs_quarantine`
 * (NDJSON), an Athena engine v3 workgroup with enforced, encrypted results and a per-query scan
 * limit, and the shared named queries. Columns come from the one schema module; the location
 * template from the lake layout the compactor writes.
 */
export class LakeCatalog extends Construct {
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
  readonly quarantineTable: glue.CfnTable;
  readonly workgroup: athena.CfnWorkGroup;

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const bucketUrl = `s3://${props.lakeBucket.bucketName}/`;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: props.databaseName, description: 'streamlake: device events compacted from Kafka' },
    });
    this.table = new glue.CfnTable(this, 'DeviceLogs', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: props.databaseName,
      tableInput: {
        name: TABLE,
        description: 'Device events, one row per Kafka record; (kafka_partition, kafka_offset) is unique.',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: columns(PARTITION_KEYS),
        parameters: {
          classification: 'parquet',
          ...DATE_PROJECTION,
          'projection.hour.type': 'integer',
          'projection.hour.range': '0,23',
          'projection.hour.digits': String(HOUR_DIGITS),
          'storage.location.template': `${bucketUrl}${CURATED_LOCATION_TEMPLATE}`,
        },
        storageDescriptor: {
          columns: columns(TABLE_COLUMNS),
          location: `${bucketUrl}${CURATED_PREFIX}`,
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        },
      },
    });
    this.quarantineTable = new glue.CfnTable(this, 'DeviceLogsQuarantine', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: props.databaseName,
      tableInput: {
        name: `${TABLE}_quarantine`,
        description: 'Records the compactor rejected, with the reason and their raw bytes (base64).',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: columns(QUARANTINE_PARTITION_KEYS),
        parameters: {
          classification: 'json',
          ...DATE_PROJECTION,
          'storage.location.template': `${bucketUrl}${QUARANTINE_LOCATION_TEMPLATE}`,
        },
        storageDescriptor: {
          columns: columns(QUARANTINE_COLUMNS),
          location: `${bucketUrl}${QUARANTINE_PREFIX}`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
        },
      },
    });
    this.database.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    for (const table of [this.table, this.quarantineTable]) {
      table.node.addDependency(this.database);
      table.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    }

    this.workgroup = new athena.CfnWorkGroup(this, 'Workgroup', {
      name: props.workgroupName,
      description: 'streamlake queries: engine v3, encrypted results, per-query scan limit',
      state: 'ENABLED',
      recursiveDeleteOption: props.removalPolicy === RemovalPolicy.DESTROY,
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
    this.workgroup.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);

    for (const query of NAMED_QUERIES) {
      new athena.CfnNamedQuery(this, `Query-${query.name}`, {
        name: query.name,
        description: query.description,
        database: props.databaseName,
        workGroup: this.workgroup.ref,
        queryString: query.sql,
      });
    }
  }
}
