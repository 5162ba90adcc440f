import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface PipelineNetworkProps {
  /**
   * Also add an interface endpoint for the Glue API, which the compactors of Iceberg tables commit
   * through (the stack sets it when a declared table is Iceberg). It accepts HTTPS only from what
   * is let in through `glueEndpoint.connections`. @default false
   */
  readonly glueEndpoint?: boolean;
  /** Retention of the VPC flow logs. @default 14 days (DEFAULTS.brokerLogRetentionDays) */
  readonly flowLogRetentionDays?: number;
  /** What happens to the flow logs on stack deletion. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A VPC across two AZs with private subnets only and no NAT gateway (a NAT gateway alone would
 * cost more than the rest of the pipeline). The Lambdas reach S3 through a gateway endpoint, and the
 * compactors of Iceberg tables the Glue API through an interface endpoint when there are any; MSK
 * lives in the same subnets; MSK IAM tokens are signed locally and need no endpoint; the bootstrap
 * broker string is resolved at deploy time and passed in the environment. X-Ray tracing needs no
 * endpoint either: Lambda runs the X-Ray daemon and sends its segments itself, and our code calls no
 * X-Ray API (AWS Solutions Constructs document Lambdas traced by default in isolated subnets with
 * no X-Ray endpoint as "the minimal, most private VPC to run the pattern").
 */
export class PipelineNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** The Glue API endpoint (private DNS, so the SDK's default endpoint resolves to it); absent unless `glueEndpoint`. */
  readonly glueEndpoint?: ec2.InterfaceVpcEndpoint;

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
    if (props.glueEndpoint) {
      // Closed by default: the Iceberg compactors are let in one by one, by security group.
      this.glueEndpoint = this.vpc.addInterfaceEndpoint('Glue', { service: ec2.InterfaceVpcEndpointAwsService.GLUE, privateDnsEnabled: true, open: false });
    }
  }

  /** The subnets of the brokers and the Lambdas. */
  get privateSubnets(): ec2.SubnetSelection {
    return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  }
}
