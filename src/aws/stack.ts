import { DescribeStacksCommand, type CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { UsageError } from '../cli/errors.ts';

/** The stack does not exist in this account and region: a wrong `--stack` or region, so a usage error (exit 2). */
export class StackNotFoundError extends UsageError {
  override name = 'StackNotFoundError';
}

/** The outputs of a deployed streamlake stack, by key (`LakeBucket`, `GlueDatabase`, …). */
export async function stackOutputs(client: CloudFormationClient, stack: string): Promise<Map<string, string>> {
  try {
    const response = await client.send(new DescribeStacksCommand({ StackName: stack }));
    const found = response.Stacks?.[0];
    if (!found) throw notFound(stack);
    return new Map((found.Outputs ?? []).filter((o) => o.OutputKey && o.OutputValue !== undefined).map((o) => [o.OutputKey!, o.OutputValue!]));
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) throw notFound(stack);
    throw error;
  }
}

function notFound(stack: string): StackNotFoundError {
  return new StackNotFoundError(
    `stack ${stack} does not exist in this account and region (${process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'region from the AWS config'}): ` +
      'pass --stack with the name `cdk deploy` used (-c stackName=…), or set AWS_REGION to the stack\'s region',
  );
}

export function requireOutput(outputs: Map<string, string>, key: string, stack: string): string {
  const value = outputs.get(key);
  if (value === undefined) throw new UsageError(`stack ${stack} has no output ${key}: it is not a streamlake stack, or one deployed before ${key} was added; pass the right --stack or deploy again`);
  return value;
}
