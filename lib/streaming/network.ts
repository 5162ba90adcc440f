import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface PipelineNetworkProps {
  /** Also add a VPC endpoint for X-Ray, which traced Lambdas need without a NAT gateway. @default false */
  readonly tracing?: boolean;
  /** Retention of the VPC flow logs. @default 14 days (DEFAULTS.brokerLogRetentionDays) */
  readonly flowLogRetentionDays?: number;
  /** What happens to the flow logs on stack deletion. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A VPC across two AZs with private subnets only and no NAT gateway (a NAT gateway alone would
 * cost more than the rest of the pipeline). The Lambdas reach S3 through a gateway endpoint; MSK
 * lives in the same subnets; MSK IAM tokens are signed locally and need no endpoint; the bootstrap
 * broker string is resolved at deploy time and passed in the environment.
 */
export class PipelineNetwork extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: PipelineNetworkProps = {}) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', { retention: props.flowLogRetentionDays ?? 14, removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN }),
          ),
        },
      },
    });
    if (props.tracing) {
      const xray = this.vpc.addInterfaceEndpoint('XRay', { service: ec2.InterfaceVpcEndpointAwsService.XRAY });
      Validations.of(xray).acknowledge({ id: 'AwsSolutions-EC23', reason: 'The endpoint accepts HTTPS only from inside the VPC (its CIDR, an intrinsic the rule cannot read).' });
    }
  }

  /** The subnets of the brokers and the Lambdas. */
  get privateSubnets(): ec2.SubnetSelection {
    return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  }
}
