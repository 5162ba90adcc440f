import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IDependable } from 'constructs';
import { handlerEntry, NODE_FUNCTION_DEFAULTS } from './lambda-defaults.ts';

export interface ScheduledFunctionOptions {
  /** Handler file in lambdas/handlers/, without `.ts`. */
  readonly handler: string;
  /** Memory, MiB. */
  readonly memoryMiB: number;
  /** Timeout, seconds. */
  readonly timeoutSeconds: number;
  /** Cadence of the schedule. */
  readonly everyMinutes: number;
  /** Whether the schedule is enabled. */
  readonly enabled: boolean;
  /** The network it runs in. @default none: outside any VPC (a function that needs no broker reaches AWS APIs directly) */
  readonly vpc?: ec2.IVpc;
  /** Its subnets, private. Required with `vpc`. */
  readonly subnets?: ec2.SubnetSelection;
  /** Where failed invocations and failed schedule deliveries go. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Retention of its log group, days. */
  readonly logRetentionDays: number;
  /** X-Ray active tracing. */
  readonly tracing: boolean;
  /** Bundling on top of NODE_FUNCTION_DEFAULTS. @default NODE_FUNCTION_DEFAULTS.bundling */
  readonly bundling?: nodejs.BundlingOptions;
  /** @default RemovalPolicy.RETAIN (of the log group) */
  readonly removalPolicy?: RemovalPolicy;
  /** What the first invocation needs to exist (e.g. the function's topic): the schedule is created after it. @default nothing beyond the function and its role's policy */
  readonly dependsOn?: readonly IDependable[];
  /**
   * The event of each schedule: one schedule per entry, all at the same cadence, the first with
   * construct ID `scheduleId`, the others `<scheduleId><index>`.
   * @default one schedule whose event carries its `scheduledTime`
   */
  readonly inputs?: readonly ScheduleInput[];
}

/** One schedule's event, and what its description adds to "Invokes <function> every n minute(s)". */
export interface ScheduleInput {
  /** The JSON object the function is invoked with. */
  readonly event: Record<string, unknown>;
  /** E.g. ` as shard 1 of 3`. @default nothing */
  readonly describedAs?: string;
}

const SCHEDULED_TIME: ScheduleInput = { event: { scheduledTime: scheduler.ContextAttribute.scheduledTime } };

/**
 * A pipeline Lambda and the EventBridge schedules that invoke it: `id` (the function), `<id>Logs`
 * (its log group) and `scheduleId` (then `<scheduleId>1`, … for further `inputs`), all in `scope`;
 * every schedule is created after the function's role and policy and `dependsOn`. An ARM64 Node.js 24 function bundled by the local
 * esbuild, in the private subnets (or outside the VPC when given none), with JSON logs, a log
 * retention and failed invocations (and failed schedule deliveries) kept in the dead-letter queue.
 */
export function scheduledFunction(scope: Construct, id: string, scheduleId: string, options: ScheduledFunctionOptions): { fn: nodejs.NodejsFunction; schedule: scheduler.Schedule; schedules: scheduler.Schedule[] } {
  const fn = new nodejs.NodejsFunction(scope, id, {
    ...NODE_FUNCTION_DEFAULTS,
    bundling: { ...NODE_FUNCTION_DEFAULTS.bundling, ...options.bundling },
    entry: handlerEntry(options.handler),
    memorySize: options.memoryMiB,
    timeout: Duration.seconds(options.timeoutSeconds),
    ...(options.vpc
      ? {
          vpc: options.vpc,
          vpcSubnets: options.subnets,
          // Egress only where the function must go: the brokers (opened through the cluster's connections) and S3.
          allowAllOutbound: false,
        }
      : {}),
    logGroup: new logs.LogGroup(scope, `${id}Logs`, { retention: options.logRetentionDays, removalPolicy: options.removalPolicy ?? RemovalPolicy.RETAIN }),
    tracing: options.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
    // The schedule retries delivery; a failed run is not retried by Lambda (the next run catches up).
    retryAttempts: 0,
    onFailure: new SqsDestination(options.deadLetterQueue),
  });
  // The subnets have no route but the S3 gateway endpoint (and Glue's, for the Iceberg compactors), so HTTPS egress reaches only those.
  if (options.vpc) fn.connections.allowToAnyIpv4(ec2.Port.tcp(443), 'HTTPS to S3 through the gateway endpoint');
  acknowledgeBasics(fn, options.tracing, options.vpc !== undefined);

  const schedules = (options.inputs ?? [SCHEDULED_TIME]).map((input, index) => {
    const schedule = new scheduler.Schedule(scope, index === 0 ? scheduleId : `${scheduleId}${index}`, {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(options.everyMinutes)),
      description: `Invokes ${fn.node.path} every ${options.everyMinutes} minute(s)${input.describedAs ?? ''}`,
      enabled: options.enabled,
      target: new targets.LambdaInvoke(fn, {
        input: scheduler.ScheduleTargetInput.fromObject(input.event),
        retryAttempts: 2,
        maxEventAge: Duration.minutes(options.everyMinutes),
        deadLetterQueue: options.deadLetterQueue,
      }),
    });
    // The schedule's first invocation comes at once: without these it can run before the function's
    // permissions or its topic exist, fail into the dead-letter queue and fire alarms. A dependency on
    // the role covers its default policy, whatever grants are added to it later.
    schedule.node.addDependency(fn.role!, ...(options.dependsOn ?? []));
    return schedule;
  });
  return { fn, schedule: schedules[0]!, schedules };
}

function acknowledgeBasics(fn: nodejs.NodejsFunction, tracing: boolean, inVpc: boolean): void {
  for (const policy of ['AWSLambdaBasicExecutionRole', ...(inVpc ? ['AWSLambdaVPCAccessExecutionRole'] : [])]) {
    Validations.of(fn.role!).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
      reason: 'The AWS-maintained minimum for writing logs and attaching VPC network interfaces (which need Resource *).',
    });
  }
  if (tracing) {
    Validations.of(fn.role!).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions.' });
  }
  // The scheduler's role may invoke the function and its versions: `<function arn>:*`.
  const stack = Stack.of(fn);
  Validations.of(stack).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
    reason: 'EventBridge Scheduler invokes only this function (and its qualified versions).',
  });
}
