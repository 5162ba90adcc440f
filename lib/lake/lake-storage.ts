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
        { id: 'curated-storage-classes', prefix: CURATED_AREA, transitions: curatedTransitions(props) },
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
    if (Construct.isConstruct(grantee.grantPrincipal)) {
      const bucketLogicalId = Stack.of(this).getLogicalId(this.lakeBucket.node.defaultChild as s3.CfnBucket);
      for (const prefix of prefixes) {
        Validations.of(grantee.grantPrincipal).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${prefix}*]`,
          reason: `The compactor of ${table} writes run-named files under ${prefix}: the wildcard is scoped to that prefix.`,
        });
      }
    }
    // ListBucket makes S3 answer 404 (not 403) for the checkpoint before the first run; S3 offers no
    // prefix condition that applies to that check, so it is granted on the bucket.
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.lakeBucket.bucketArn] }).combine(
      iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject', 's3:PutObject'], resourceArns: prefixes.map((prefix) => this.lakeBucket.arnForObjects(`${prefix}*`)) }),
    );
    // SSE-KMS needs exactly these two: a data key to write, decryption to read.
    return this.lakeBucket.encryptionKey ? grant.combine(this.lakeBucket.encryptionKey.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt')) : grant;
  }
}

function curatedTransitions(props: LakeStorageProps): s3.Transition[] {
  const steps: [number, s3.StorageClass][] = [
    [props.curatedInfrequentAccessAfterDays, s3.StorageClass.INFREQUENT_ACCESS],
    [props.curatedGlacierInstantAfterDays, s3.StorageClass.GLACIER_INSTANT_RETRIEVAL],
    [props.curatedDeepArchiveAfterDays, s3.StorageClass.DEEP_ARCHIVE],
  ];
  return steps.filter(([days]) => days > 0).map(([days, storageClass]) => ({ transitionAfter: Duration.days(days), storageClass }));
}
