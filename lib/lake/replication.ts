import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface PrefixReplicationProps {
  /** ARN of the bucket the replicas go to (`arn:aws:s3:::name`). Required. */
  readonly destinationBucketArn: string;
  /** The prefix of the source bucket to replicate, e.g. `curated/`. Required. */
  readonly prefix: string;
  /**
   * The key the source bucket encrypts with. When set, the rule also replicates SSE-KMS objects
   * (S3 skips them otherwise) and the role may decrypt them. @default none: SSE-S3 objects only
   */
  readonly sourceKey?: kms.IKey;
  /** The key S3 encrypts replicas with, in the destination bucket's region. @default `sourceKey` (a destination in the same region) */
  readonly replicaKey?: kms.IKey;
}

/**
 * Replication of one prefix of a bucket to another bucket: the rule for the source bucket's
 * `replicationRules` and a role of its own (generated name, permissions scoped to the prefix on
 * both sides). With a source KMS key the rule replicates SSE-KMS objects
 * (`SourceSelectionCriteria.SseKmsEncryptedObjects`) and encrypts the replicas with the replica key,
 * as S3 requires. Create it before the bucket, then `grantReplication(bucket)`.
 */
export class PrefixReplication extends Construct {
  readonly role: iam.Role;
  readonly rule: s3.ReplicationRule;
  private readonly props: PrefixReplicationProps;
  private readonly replicaKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: PrefixReplicationProps) {
    super(scope, id);
    this.props = props;
    this.replicaKey = props.sourceKey ? (props.replicaKey ?? props.sourceKey) : undefined;
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('s3.amazonaws.com'), description: `S3 replication of ${props.prefix} to ${props.destinationBucketArn}` });
    this.rule = {
      id: `replicate-${props.prefix.replace(/\/$/, '')}`,
      priority: 1,
      filter: { prefix: props.prefix },
      destination: s3.Bucket.fromBucketArn(this, 'Destination', props.destinationBucketArn),
      deleteMarkerReplication: false,
      ...(this.replicaKey ? { sseKmsEncryptedObjects: true, kmsKey: this.replicaKey } : {}),
    };
  }

  /** Gives the role what S3 replication of the prefix of `source` needs, and nothing of other prefixes. */
  grantReplication(source: s3.IBucket): iam.Grant {
    const { prefix, destinationBucketArn, sourceKey } = this.props;
    const grantee = this.role;
    const sourceObjects = source.arnForObjects(`${prefix}*`);
    const destinationObjects = `${destinationBucketArn}/${prefix}*`;
    let grant = iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'], resourceArns: [source.bucketArn] })
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'], resourceArns: [sourceObjects] }))
      // No ReplicateDelete: delete markers are not replicated, so a deletion in the lake never reaches the copy.
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:ReplicateObject', 's3:ReplicateTags'], resourceArns: [destinationObjects] }));
    if (sourceKey && this.replicaKey) grant = grant.combine(sourceKey.grant(grantee, 'kms:Decrypt')).combine(this.replicaKey.grant(grantee, 'kms:Encrypt'));

    const sourceLogicalId = Stack.of(this).getLogicalId(source.node.defaultChild as s3.CfnBucket);
    for (const [resource, side] of [[`<${sourceLogicalId}.Arn>/${prefix}*`, 'reads'], [destinationObjects, 'writes']] as const) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason: `S3 replication ${side} every object version under ${prefix}, whose keys are not known in advance: the wildcard is scoped to that prefix.`,
      });
    }
    return grant;
  }
}
