import { Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** Acknowledges the AWS-managed execution policies CDK gives a function it creates. */
export function acknowledgeLambdaBasics(fn: Construct, ...extraPolicies: string[]): void {
  for (const policy of ['AWSLambdaBasicExecutionRole', ...extraPolicies]) {
    Validations.of(fn).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
      reason: 'The AWS-maintained minimum for a function to write its logs (and attach VPC interfaces, which need Resource *); its other permissions are scoped to this cluster.',
    });
  }
}
