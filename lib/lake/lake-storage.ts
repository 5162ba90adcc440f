import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { checkpointPrefix, curatedPrefix, quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import { PrefixReplication } from './replication.ts';

/** Prefix of Athena's query results in the results bucket. */
export const ATHENA_RESULTS_PREFIX = 'athena/';

/** The areas of the lake bucket whose lifecycle differs; each holds one folder per table (`curatedPrefix(table)` and the like). */
export const CURATED_AREA = 'curated/';
export const QUARANTINE_AREA = 'quarantine/';

export interface LakeStorageProps {
  /** @default DEFAULTS.curatedInfrequentAccessAfterDays; 0: off */
  readonly curatedInfrequentAccessAfterDays: number;
  /** @default DEFAULTS.curatedGlacierInstantAfterDays; 0: off */
  readonly curatedGlacierInstantAfterDays: number;
  /** @default DEFAULTS.curatedDeepArchiveAfterDays; 0: off */
  readonly curatedDeepArchiveAfterDays: number;
  /** @default DEFAULTS.quarantineExpireDays */
  readonly quarantineExpireDays: number;
  /** @default DEFAULTS.athenaResultsExpireDays */
  readonly athenaResultsExpireDays: number;
  /** @default DEFAULTS.noncurrentVersionExpireDays */
  readonly noncurrentVersionExpireDays: number;
  /** @default DEFAULTS.abortIncompleteUploadAfterDays */
  readonly abortIncompleteUploadAfterDays: number;
  /** A customer-managed key for every bucket. @default S3-managed keys (DEFAULTS.kmsEncryption false) */
  readonly encryptionKey?: kms.IKey;
  /** A bucket to replicate `curated/` to. @default no replication (DEFAULTS.replicationBucketArn '') */
  readonly replicationBucketArn?: string;
  /** The key replicas are encrypted with when `encryptionKey` is set (it must be in the destination's region). @default `encryptionKey` (DEFAULTS.replicationKmsKeyArn '') */
  readonly replicationKey?: kms.IKey;
  /**
   * The Iceberg tables of the lake. Their metadata (`curated/<table>/metadata/`) must stay readable
   * while the table lives, so with any of them the curated transitions apply per table: to the
   * whole folder of a Hive-Parquet table, to the `data/` folder of an Iceberg table.
   * @default none: one rule for all of `curated/`
   */
  readonly icebergTables?: readonly string[];
  /** The Hive-Parquet tables of the lake, which get their own curated rule when `icebergTables` is not empty. @default none */
  readonly hiveTables?: readonly string[];
  /** RETAIN keeps every bucket and its data on `cdk destroy`; DESTROY empties and deletes them. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The lake: one bucket with `curated/` (Parquet), `quarantine/` (NDJSON) and `checkpoints/`, each
 * with a folder per table, one
 * bucket for Athena results, and one for the other two's server access logs. All versioned,
 * encrypted, private and TLS-only. Lifecycle rules move curated data to cheaper storage over time,
 * expire quarantine and query results, expire replaced versions and abort stale uploads.
 */
export class LakeStorage extends Construct {
  readonly lakeBucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  /** Replication of `curated/`, when a destination is configured. */
  readonly replication?: PrefixReplication;

  constructor(scope: Construct, id: string, props: LakeStorageProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const secure: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
      ...(props.encryptionKey
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: props.encryptionKey, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
    };
    const noncurrent = Duration.days(props.noncurrentVersionExpireDays);
    const abortUploads = Duration.days(props.abortIncompleteUploadAfterDays);

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...secure,
      // Server access logging delivers only to S3-managed encryption.
      encryption: s3.BucketEncryption.S3_MANAGED,
      encryptionKey: undefined,
      bucketKeyEnabled: undefined,
      versioned: false,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365), abortIncompleteMultipartUploadAfter: abortUploads }],
    });

    this.replication = props.replicationBucketArn
      ? new PrefixReplication(this, 'Replication', { destinationBucketArn: props.replicationBucketArn, prefix: CURATED_AREA, sourceKey: props.encryptionKey, replicaKey: props.replicationKey })
      : undefined;
    this.lakeBucket = new s3.Bucket(this, 'Lake', {
      ...secure,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'lake/',
      lifecycleRules: [
        ...curatedRules(props),
        { id: 'expire-quarantine', prefix: QUARANTINE_AREA, expiration: Duration.days(props.quarantineExpireDays) },
        { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: noncurrent, abortIncompleteMultipartUploadAfter: abortUploads },
      ].filter((rule) => rule.transitions === undefined || rule.transitions.length > 0),
      ...(this.replication ? { replicationRole: this.replication.role, replicationRules: [this.replication.rule] } : {}),
    });
    this.replication?.grantReplication(this.lakeBucket);

    this.resultsBucket = new s3.Bucket(this, 'AthenaResults', {
      ...secure,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [
        {
          id: 'expire-query-results',
          expiration: Duration.days(props.athenaResultsExpireDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: abortUploads,
        },
      ],
    });
  }

  /**
   * Lets the compactor of `table` read and write objects under exactly that table's prefixes
   * (curated, quarantine, checkpoints), and nothing of the other tables'.
   */
  grantCompactor(grantee: iam.IGrantable, table: string): iam.Grant {
    const prefixes = [curatedPrefix(table), quarantinePrefix(table), checkpointPrefix(table)];
    this.acknowledgePrefixes(grantee, prefixes, (prefix) => `The compactor of ${table} writes run-named files under ${prefix}: the wildcard is scoped to that prefix.`);
    // ListBucket makes S3 answer 404 (not 403) for the checkpoint before the first run; S3 offers no
    // prefix condition that applies to that check, so it is granted on the bucket.
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.lakeBucket.bucketArn] }).combine(
      iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject', 's3:PutObject'], resourceArns: prefixes.map((prefix) => this.lakeBucket.arnForObjects(`${prefix}*`)) }),
    );
    return this.withKey(grant, grantee);
  }

  /**
   * Lets the optimizer of Iceberg table `table` rewrite it: read, write and delete objects under the
   * table's curated prefix (its data and metadata files) and read its checkpoints (the runs claimed
   * and not committed, whose files it must keep); nothing of the other tables', nor its quarantine.
   */
  grantOptimizer(grantee: iam.IGrantable, table: string): iam.Grant {
    const [curated, checkpoints] = [curatedPrefix(table), checkpointPrefix(table)];
    this.acknowledgePrefixes(grantee, [curated, checkpoints], (prefix) => `The optimizer of ${table} rewrites and removes the table's files under ${curated} and reads its checkpoints under ${checkpoints}: the wildcard is scoped to ${prefix}.`);
    // ListBucket: the optimizer lists the table's files, and reads of files an expired snapshot no longer has answer 404, not 403.
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.lakeBucket.bucketArn] })
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], resourceArns: [this.lakeBucket.arnForObjects(`${curated}*`)] }))
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.lakeBucket.arnForObjects(`${checkpoints}*`)] }));
    return this.withKey(grant, grantee);
  }

  // SSE-KMS needs exactly these two: a data key to write, decryption to read.
  private withKey(grant: iam.Grant, grantee: iam.IGrantable): iam.Grant {
    return this.lakeBucket.encryptionKey ? grant.combine(this.lakeBucket.encryptionKey.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt')) : grant;
  }

  private acknowledgePrefixes(grantee: iam.IGrantable, prefixes: readonly string[], reason: (prefix: string) => string): void {
    if (!Construct.isConstruct(grantee.grantPrincipal)) return;
    const bucketLogicalId = Stack.of(this).getLogicalId(this.lakeBucket.node.defaultChild as s3.CfnBucket);
    for (const prefix of prefixes) Validations.of(grantee.grantPrincipal).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${prefix}*]`, reason: reason(prefix) });
  }
}

/**
 * The storage-class transitions of curated data. An Iceberg table's manifests and metadata files
 * are read by every query of the table, whatever its age: in Deep Archive they would make the whole
 * table unreadable (not just its old partitions, as with Hive-Parquet), so only its data files move.
 */
function curatedRules(props: LakeStorageProps): s3.LifecycleRule[] {
  const transitions = curatedTransitions(props);
  const iceberg = props.icebergTables ?? [];
  if (iceberg.length === 0) return [{ id: 'curated-storage-classes', prefix: CURATED_AREA, transitions }];
  return [
    ...(props.hiveTables ?? []).map((table) => ({ id: `curated-storage-classes-${table}`, prefix: curatedPrefix(table), transitions })),
    ...iceberg.map((table) => ({ id: `curated-storage-classes-${table}`, prefix: `${curatedPrefix(table)}data/`, transitions })),
  ];
}

function curatedTransitions(props: LakeStorageProps): s3.Transition[] {
  const steps: [number, s3.StorageClass][] = [
    [props.curatedInfrequentAccessAfterDays, s3.StorageClass.INFREQUENT_ACCESS],
    [props.curatedGlacierInstantAfterDays, s3.StorageClass.GLACIER_INSTANT_RETRIEVAL],
    [props.curatedDeepArchiveAfterDays, s3.StorageClass.DEEP_ARCHIVE],
  ];
  return steps.filter(([days]) => days > 0).map(([days, storageClass]) => ({ transitionAfter: Duration.days(days), storageClass }));
}
