import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { shardGroup, shardOf } from '../../lambdas/core/shards.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { MSK_IAM_PORT } from '../../lib/streaming/kafka-cluster.ts';
import { policyStatements, resourcesOf, synthStack } from '../helpers/synth.ts';

const { template } = synthStack();

function kafkaStatements() {
  return policyStatements(template).filter((s) => [s.Action].flat().some((a) => a.startsWith('kafka-cluster:')));
}

describe('network', () => {
  it('has private subnets in two AZs, no NAT gateway and an S3 gateway endpoint', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    expect(resourcesOf(template, 'AWS::EC2::Subnet')).toHaveLength(2);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }) });
  });

  it('lets only the Lambdas reach the brokers, only on the IAM/TLS port', () => {
    const ingress = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    expect(ingress).toHaveLength(2);
    for (const rule of ingress) {
      expect(rule).toMatchObject({ IpProtocol: 'tcp', FromPort: MSK_IAM_PORT, ToPort: MSK_IAM_PORT, SourceSecurityGroupId: expect.anything() });
      expect(rule.CidrIp).toBeUndefined();
    }
  });
});

describe('MSK cluster', () => {
  it('uses IAM access control over TLS, in-cluster TLS and broker logs in CloudWatch', () => {
    template.hasResourceProperties('AWS::MSK::Cluster', {
      KafkaVersion: DEFAULTS.kafkaVersion,
      NumberOfBrokerNodes: 2,
      BrokerNodeGroupInfo: Match.objectLike({ InstanceType: 'kafka.t3.small' }),
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } }, Unauthenticated: { Enabled: false } },
      EncryptionInfo: { EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true } },
      LoggingInfo: { BrokerLogs: { CloudWatchLogs: Match.objectLike({ Enabled: true }) } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: DEFAULTS.brokerLogRetentionDays });
  });

  it('runs the latest revision of its broker configuration, so a changed property reaches the brokers', () => {
    const configurationId = resourcesOf(template, 'AWS::MSK::Configuration')[0]![0];
    template.hasResourceProperties('AWS::MSK::Cluster', {
      ConfigurationInfo: { Arn: { 'Fn::GetAtt': [configurationId, 'Arn'] }, Revision: { 'Fn::GetAtt': [configurationId, 'LatestRevision.Revision'] } },
    });
  });

  it('encrypts broker storage with the customer key when kmsEncryption is on', () => {
    const kms = synthStack({ kmsEncryption: true }).template;
    kms.hasResourceProperties('AWS::MSK::Cluster', { EncryptionInfo: Match.objectLike({ EncryptionAtRest: { DataVolumeKMSKeyId: Match.anyValue() } }) });
  });

  it('declares the topic with its partitions, replication, retention and min.insync.replicas', () => {
    const [[, topic]] = resourcesOf(template, 'AWS::MSK::Topic') as [[string, { Properties: Record<string, any> }]];
    expect(topic.Properties).toMatchObject({ TopicName: 'device-logs', PartitionCount: 6, ReplicationFactor: 2 });
    const configs = JSON.parse(Buffer.from(topic.Properties.Configs['Fn::Base64'], 'utf8').toString()) as Record<string, string>;
    expect(configs).toEqual({ 'retention.ms': String(168 * 3_600_000), 'min.insync.replicas': '1', 'cleanup.policy': 'delete' });
  });

  it('grows the topic when partitions grow', () => {
    synthStack({ partitions: 12, partitionFloor: 6 }).template.hasResourceProperties('AWS::MSK::Topic', { PartitionCount: 12 });
  });
});

describe('Kafka permissions', () => {
  it('never grants kafka-cluster:* and names a resource in every statement', () => {
    for (const statement of kafkaStatements()) {
      expect([statement.Action].flat()).not.toContain('kafka-cluster:*');
      expect(statement.Resource).not.toBe('*');
    }
  });

  it('lets the generator connect to the cluster and write the topic idempotently, nothing else', () => {
    const actions = kafkaStatements().flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toContain('kafka-cluster:WriteData');
    expect(actions).toContain('kafka-cluster:WriteDataIdempotently');
    expect(actions).not.toContain('kafka-cluster:CreateTopic');
    expect(actions).not.toContain('kafka-cluster:DeleteTopic');
  });

  it('scopes topic actions to the topic ARN and group actions to the compactor group ARN', () => {
    const resourceOf = (action: string) => JSON.stringify(kafkaStatements().find((s) => [s.Action].flat().includes(action))!.Resource);
    expect(resourceOf('kafka-cluster:WriteData')).toMatch(/:topic\/.*\/device-logs"/);
    expect(resourceOf('kafka-cluster:ReadData')).toMatch(/:topic\/.*\/device-logs"/);
    expect(resourceOf('kafka-cluster:AlterGroup')).toMatch(new RegExp(`:group/.*/${DEFAULTS.consumerGroup}"`));
    expect(resourceOf('kafka-cluster:Connect')).toMatch(/KafkaCluster.*Arn/);
  });

  it.each([1, 3])('lets %i compactor shard(s) commit the plain group and the shard groups <group>.shard-*, and no other group', (compactorShards) => {
    const statements = policyStatements(synthStack({ compactorShards }).template).filter((s) => [s.Action].flat().some((a) => a.startsWith('kafka-cluster:')));
    const groupStatements = statements.filter((s) => JSON.stringify(s.Resource).includes(':group/'));
    expect(groupStatements).toHaveLength(1);
    expect([groupStatements[0]!.Action].flat().sort()).toEqual(['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup']);
    // Each ARN ends in its group's name, after the cluster's name/uuid: `…:group/<cluster>/<uuid>/<group>`.
    const groups = ([groupStatements[0]!.Resource].flat() as { 'Fn::Join': [string, unknown[]] }[]).map((arn) => arn['Fn::Join'][1].at(-1));
    expect(groups).toEqual([`/${DEFAULTS.consumerGroup}`, `/${DEFAULTS.consumerGroup}.shard-*`]);
    // Every group a shard commits (the handler's own naming, shardGroup) is granted, for any shard count; another consumer's group is not.
    const granted = (name: string) => groups.some((arnTail) => new RegExp(`^${(arnTail as string).slice(1).replaceAll('.', '\\.').replaceAll('*', '.*')}$`).test(name));
    for (let count = 1; count <= 12; count++) {
      for (let index = 0; index < count; index++) expect(granted(shardGroup(DEFAULTS.consumerGroup, shardOf(index, count)))).toBe(true);
    }
    expect(granted('some-other-app')).toBe(false);
    expect(granted(`${DEFAULTS.consumerGroup}-other`)).toBe(false);
  });
});

describe('MSK Serverless', () => {
  const { template: serverless } = synthStack({ mskMode: 'serverless' });

  it('replaces the provisioned cluster and AWS::MSK::Topic with a serverless cluster and an admin-API topic', () => {
    serverless.resourceCountIs('AWS::MSK::Cluster', 0);
    serverless.resourceCountIs('AWS::MSK::Topic', 0);
    serverless.hasResourceProperties('AWS::MSK::ServerlessCluster', { ClientAuthentication: { Sasl: { Iam: { Enabled: true } } }, VpcConfigs: [Match.objectLike({ SecurityGroups: Match.anyValue() })] });
    serverless.hasResourceProperties('Custom::KafkaTopic', { TopicName: 'device-logs', Partitions: '6', BootstrapBrokers: Match.anyValue() });
  });

  it('lets the topic manager create and alter only the topic', () => {
    const statements = policyStatements(serverless).filter((s) => [s.Action].flat().includes('kafka-cluster:CreateTopic'));
    expect(statements).toHaveLength(1);
    expect([statements[0]!.Action].flat().sort()).toEqual(['kafka-cluster:AlterTopic', 'kafka-cluster:CreateTopic', 'kafka-cluster:DescribeTopic']);
    expect(JSON.stringify(statements[0]!.Resource)).toMatch(/:topic\/.*\/device-logs"/);
  });
});

describe('bootstrap brokers', () => {
  const { template: serverless } = synthStack({ mskMode: 'serverless' });
  const lookupOf = (t: typeof template) => resourcesOf(t, 'Custom::KafkaBootstrapBrokers');
  const functionsOf = (t: typeof template) => resourcesOf(t, 'AWS::Lambda::Function');

  it('are looked up by our own custom resource on the cluster, for provisioned and serverless clusters alike', () => {
    for (const [t, clusterType] of [
      [template, 'AWS::MSK::Cluster'],
      [serverless, 'AWS::MSK::ServerlessCluster'],
    ] as const) {
      t.resourceCountIs('Custom::AWS', 0);
      const [[, lookup]] = lookupOf(t) as [[string, { Properties: Record<string, any> }]];
      const [[clusterId]] = resourcesOf(t, clusterType) as [[string, unknown]];
      expect(lookup.Properties.ClusterArn).toEqual({ 'Fn::GetAtt': [clusterId, 'Arn'] });
    }
  });

  it('reach the pipeline Lambdas as the SASL/IAM broker list', () => {
    const [[lookupId]] = lookupOf(template) as [[string, unknown]];
    const brokerEnvs = functionsOf(template).map(([, fn]) => fn.Properties.Environment?.Variables?.[ENV.bootstrapBrokers]).filter(Boolean);
    expect(brokerEnvs).toHaveLength(2);
    for (const value of brokerEnvs) expect(value).toEqual({ 'Fn::GetAtt': [lookupId, 'BootstrapBrokerStringSaslIam'] });
  });

  it('let the lookup call only DescribeClusterV2 and GetBootstrapBrokers, on the cluster', () => {
    for (const [t, clusterType] of [
      [template, 'AWS::MSK::Cluster'],
      [serverless, 'AWS::MSK::ServerlessCluster'],
    ] as const) {
      const [[clusterId]] = resourcesOf(t, clusterType) as [[string, unknown]];
      const mskApi = policyStatements(t).filter((s) => [s.Action].flat().some((a) => a.startsWith('kafka:')));
      expect(mskApi).toEqual([{ Effect: 'Allow', Action: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'], Resource: { 'Fn::GetAtt': [clusterId, 'Arn'] } }]);
    }
  });

  it('run outside the VPC, which has no route to the MSK API, with time to wait for the cluster', () => {
    const [[, lookup]] = lookupOf(template) as [[string, { Properties: Record<string, any> }]];
    // The custom resource calls the Provider framework, which invokes our handler.
    const framework = template.toJSON().Resources[lookup.Properties.ServiceToken['Fn::GetAtt'][0]];
    const fn = template.toJSON().Resources[framework.Properties.Environment.Variables.USER_ON_EVENT_FUNCTION_ARN['Fn::GetAtt'][0]];
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Timeout: 600 });
    expect(fn.Properties.VpcConfig).toBeUndefined();
  });
});
