import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { checkpointPrefix, curatedPrefix, quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import { CURATED_AREA, QUARANTINE_AREA } from '../../lib/lake/lake-storage.ts';
import { policyStatements, resourcesOf, synthStack } from '../helpers/synth.ts';

const { template, stack } = synthStack();
const lakeId = stack.getLogicalId(stack.lake.lakeBucket.node.defaultChild as never);
const resultsId = stack.getLogicalId(stack.lake.resultsBucket.node.defaultChild as never);

function rulesOf(logicalId: string): Record<string, any>[] {
  return (template.toJSON().Resources[logicalId].Properties.LifecycleConfiguration.Rules as Record<string, any>[]);
}

describe('lake buckets', () => {
  it('are private, encrypted, TLS-only and versioned', () => {
    for (const [, bucket] of resourcesOf(template, 'AWS::S3::Bucket')) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    }
    for (const id of [lakeId, resultsId]) {
      expect(template.toJSON().Resources[id].Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(template.toJSON().Resources[id].Properties.LoggingConfiguration.DestinationBucketName).toBeDefined();
    }
    const tlsOnly = resourcesOf(template, 'AWS::S3::BucketPolicy').filter(([, p]) =>
      p.Properties.PolicyDocument.Statement.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'),
    );
    expect(tlsOnly).toHaveLength(3);
  });

  it('keeps every table under the areas its lifecycle rules name', () => {
    for (const table of ['device_logs', 'orders']) {
      expect(curatedPrefix(table).startsWith(CURATED_AREA)).toBe(true);
      expect(quarantinePrefix(table).startsWith(QUARANTINE_AREA)).toBe(true);
    }
  });

  it('moves curated data to Standard-IA at 30 days, Glacier IR at 90 and Deep Archive at 365', () => {
    const curated = rulesOf(lakeId).find((r) => r.Prefix === CURATED_AREA)!;
    expect(curated.Transitions).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
      { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 365 },
    ]);
    expect(curated.ExpirationInDays).toBeUndefined();
  });

  it('drops a curated transition set to 0 days, and the whole rule when all are off', () => {
    const { template: noGlacier, stack: s1 } = synthStack({ curatedGlacierInstantAfterDays: 0 });
    const rules = noGlacier.toJSON().Resources[s1.getLogicalId(s1.lake.lakeBucket.node.defaultChild as never)].Properties.LifecycleConfiguration.Rules;
    expect(rules.find((r: any) => r.Prefix === CURATED_AREA).Transitions.map((t: any) => t.StorageClass)).toEqual(['STANDARD_IA', 'DEEP_ARCHIVE']);
    const { template: none, stack: s2 } = synthStack({ curatedInfrequentAccessAfterDays: 0, curatedGlacierInstantAfterDays: 0, curatedDeepArchiveAfterDays: 0 });
    const noneRules = none.toJSON().Resources[s2.getLogicalId(s2.lake.lakeBucket.node.defaultChild as never)].Properties.LifecycleConfiguration.Rules;
    expect(noneRules.some((r: any) => r.Prefix === CURATED_AREA)).toBe(false);
  });

  it('expires quarantine after 30 days, never the checkpoints, and replaced versions after 30', () => {
    const rules = rulesOf(lakeId);
    expect(rules.find((r) => r.Prefix === QUARANTINE_AREA)).toMatchObject({ ExpirationInDays: 30, Status: 'Enabled' });
    expect(rules.some((r) => r.Prefix?.startsWith('checkpoints/') || (r.Prefix === undefined && r.ExpirationInDays !== undefined))).toBe(false);
    expect(rules.find((r) => r.NoncurrentVersionExpiration)).toMatchObject({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } });
  });

  it('expires Athena results after 7 days and aborts incomplete uploads after 1', () => {
    expect(rulesOf(resultsId)[0]).toMatchObject({ ExpirationInDays: 7, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } });
  });

  it('encrypts with a rotating customer key when kmsEncryption is on', () => {
    const { template: kms } = synthStack({ kmsEncryption: true });
    kms.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    kms.hasResourceProperties('AWS::S3::Bucket', { BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] } });
  });

  it('replicates curated data to another bucket when asked, with a role of its own scoped to curated/', () => {
    const { template: replicated } = synthStack({ replicationBucketArn: 'arn:aws:s3:::backup-lake' });
    replicated.hasResourceProperties('AWS::S3::Bucket', {
      ReplicationConfiguration: { Role: Match.anyValue(), Rules: [Match.objectLike({ Filter: { Prefix: CURATED_AREA }, Destination: Match.objectLike({ Bucket: 'arn:aws:s3:::backup-lake' }), DeleteMarkerReplication: { Status: 'Disabled' } })] },
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('ReplicationConfiguration');
    // A generated role name: CDK's default role is named CDKReplicationRole, one per account.
    for (const [, role] of resourcesOf(replicated, 'AWS::IAM::Role')) expect(role.Properties.RoleName).toBeUndefined();
    const statements = policyStatements(replicated);
    const replicate = statements.find((s) => [s.Action].flat().includes('s3:ReplicateObject'))!;
    expect(replicate.Resource).toBe(`arn:aws:s3:::backup-lake/${CURATED_AREA}*`);
    expect(statements.flatMap((s) => [s.Action].flat())).not.toContain('s3:ReplicateDelete');
  });

  it('replicates KMS-encrypted curated objects when kmsEncryption is on, encrypting the replicas with a KMS key', () => {
    const { template: replicated, stack: s } = synthStack({ replicationBucketArn: 'arn:aws:s3:::backup-lake', kmsEncryption: true });
    const rule = replicated.toJSON().Resources[s.getLogicalId(s.lake.lakeBucket.node.defaultChild as never)].Properties.ReplicationConfiguration.Rules[0];
    // Without SseKmsEncryptedObjects S3 skips every SSE-KMS object, i.e. all of this lake.
    expect(rule.SourceSelectionCriteria).toEqual({ SseKmsEncryptedObjects: { Status: 'Enabled' } });
    const dataKeyId = s.getLogicalId(s.node.findChild('DataKey').node.defaultChild as never);
    expect(rule.Destination.EncryptionConfiguration).toEqual({ ReplicaKmsKeyID: { 'Fn::GetAtt': [dataKeyId, 'Arn'] } });
    const kmsActions = policyStatements(replicated).filter((st) => JSON.stringify(st.Resource).includes(dataKeyId) && JSON.stringify(st).includes('kms:'));
    expect(kmsActions.flatMap((st) => [st.Action].flat()).sort()).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt']));

    const { template: crossRegion, stack: s2 } = synthStack({ replicationBucketArn: 'arn:aws:s3:::backup-lake', kmsEncryption: true, replicationKmsKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/abcd' });
    const rule2 = crossRegion.toJSON().Resources[s2.getLogicalId(s2.lake.lakeBucket.node.defaultChild as never)].Properties.ReplicationConfiguration.Rules[0];
    expect(rule2.Destination.EncryptionConfiguration).toEqual({ ReplicaKmsKeyID: 'arn:aws:kms:us-west-2:123456789012:key/abcd' });
    expect(policyStatements(crossRegion).some((st) => st.Resource === 'arn:aws:kms:us-west-2:123456789012:key/abcd' && [st.Action].flat().includes('kms:Encrypt'))).toBe(true);
  });
});

describe('compactor S3 permissions', () => {
  const s3Statements = policyStatements(template).filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')) && JSON.stringify(s.Resource).includes(lakeId));

  it('never grants s3:* and reads and writes objects only under its three prefixes', () => {
    const actions = s3Statements.flatMap((s) => [s.Action].flat());
    expect(actions).not.toContain('s3:*');
    expect(actions).not.toContain('s3:DeleteObject');
    const objects = s3Statements.find((s) => [s.Action].flat().includes('s3:PutObject'))!;
    expect([s3Statements.find((s) => [s.Action].flat().includes('s3:PutObject'))!.Action].flat().sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    const resources = JSON.stringify(objects.Resource);
    for (const prefix of [curatedPrefix('device_logs'), quarantinePrefix('device_logs'), checkpointPrefix('device_logs')]) expect(resources).toContain(`/${prefix}*`);
    expect((objects.Resource as unknown[]).length).toBe(3);
  });
});
