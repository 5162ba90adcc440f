import { CfnResource, CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { handlerEntry, NODE_FUNCTION_DEFAULTS } from '../functions/lambda-defaults.ts';
import { acknowledgeLambdaBasics } from './acknowledgements.ts';

export interface BootstrapBrokersProps {
  /** The provisioned or serverless MSK cluster whose brokers to look up. Required. */
  readonly clusterArn: string;
  /** Retention of the lookup function's logs. Required (the cluster passes DEFAULTS.brokerLogRetentionDays). */
  readonly logRetentionDays: number;
  /** What happens to the lookup function's logs on stack deletion. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The SASL/IAM bootstrap brokers of an MSK cluster, resolved at deploy time by our own custom
 * resource (`Custom::KafkaBootstrapBrokers`, handler `lambdas/handlers/bootstrap-brokers.ts`) with
 * the pinned `@aws-sdk/client-kafka` bundled into it: DescribeClusterV2 until the cluster is ACTIVE,
 * then GetBootstrapBrokers. The function may call only those two actions, on this cluster.
 */
export class BootstrapBrokers extends Construct {
  /** Comma-separated `host:9098` list of the IAM/TLS listener. */
  readonly saslIam: string;
  readonly fn: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: BootstrapBrokersProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // Outside the VPC: it calls the public MSK API, which the NAT-less private subnets cannot reach.
    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      ...NODE_FUNCTION_DEFAULTS,
      entry: handlerEntry('bootstrap-brokers'),
      // Long enough to wait out a cluster that is not ACTIVE yet (the handler keeps time to answer).
      timeout: Duration.minutes(10),
      // The pinned client, not whichever SDK the runtime ships.
      bundling: { ...NODE_FUNCTION_DEFAULTS.bundling, bundleAwsSDK: true },
      logGroup: new logs.LogGroup(this, 'Logs', { retention: props.logRetentionDays, removalPolicy }),
    });
    this.fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'], resources: [props.clusterArn] }));
    const provider = new cr.Provider(this, 'Provider', { onEventHandler: this.fn });
    acknowledgeLambdaBasics(this.fn);
    acknowledgeLambdaBasics(provider.node.findChild('framework-onEvent') as Construct);
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.fn.node.defaultChild as CfnResource)}.Arn>:*]`,
      reason: 'The CDK custom resource framework may invoke only the broker lookup function (and its versions).',
    });
    const resource = new CustomResource(this, 'Default', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KafkaBootstrapBrokers',
      properties: { ClusterArn: props.clusterArn },
    });
    this.saslIam = resource.getAttString('BootstrapBrokerStringSaslIam');
  }
}
