import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/handlers/environment.ts';
import type { PipelineConfig } from '../config.ts';
import type { LakeStorage } from '../lake/lake-storage.ts';
import type { KafkaCluster } from '../streaming/kafka-cluster.ts';
import { handlerEntry, NODE_FUNCTION_DEFAULTS } from './lambda-defaults.ts';

export interface PipelineFunctionsProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly cluster: KafkaCluster;
  readonly lake: LakeStorage;
  /** Sizes, timeouts, schedules and the settings the handlers read from their environment. @default DEFAULTS */
  readonly config: PipelineConfig;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The generator's settings as environment variables (its brokers and topic come with `grantProduce`). */
export function generatorSettings(config: PipelineConfig): Record<string, string> {
  return {
    [ENV.devices]: String(config.devices),
    [ENV.eventsPerDevicePerMinute]: String(config.eventsPerDevicePerMinute),
    [ENV.seed]: String(config.seed),
    [ENV.lateShare]: String(config.lateShare),
    [ENV.maxLatenessMinutes]: String(config.maxLatenessMinutes),
    [ENV.anomalyShare]: String(config.anomalyShare),
    [ENV.corruptShare]: String(config.corruptShare),
  };
}

/** The compactor's settings as environment variables (brokers, topic, group and bucket come with its grants). */
export function compactorSettings(config: PipelineConfig): Record<string, string> {
  return {
    [ENV.codec]: config.codec,
    [ENV.maxRecordsPerRun]: String(config.maxRecordsPerRun),
    [ENV.maxRecordBytes]: String(config.maxRecordBytes),
    [ENV.maxEventAgeHours]: String(config.maxEventAgeHours),
    [ENV.maxEventFutureMinutes]: String(config.maxEventFutureMinutes),
  };
}

/**
 * The two scheduled Lambdas. The log-generator produces a minute of device events every minute;
 * the compactor turns the topic into Parquet every few minutes, one run at a time. Both are
 * ARM64 Node.js 24 functions bundled by the local esbuild, in the private subnets, with JSON logs,
 * EMF metrics, a log retention, and failed invocations (and failed schedule deliveries) kept in a
 * dead-letter queue.
 */
export class PipelineFunctions extends Construct {
  readonly generator: nodejs.NodejsFunction;
  readonly compactor: nodejs.NodejsFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly generatorSchedule: scheduler.Schedule;
  readonly compactorSchedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: PipelineFunctionsProps) {
    super(scope, id);
    const { config } = props;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.generator = this.pipelineFunction('LogGenerator', 'generator', config.generatorMemoryMiB, config.generatorTimeoutSeconds, props);
    for (const [name, value] of Object.entries(generatorSettings(config))) this.generator.addEnvironment(name, value);
    props.cluster.grantProduce(this.generator);

    this.compactor = this.pipelineFunction('Compactor', 'compactor', config.compactorMemoryMiB, config.compactorTimeoutSeconds, props, 1);
    for (const [name, value] of Object.entries(compactorSettings(config))) this.compactor.addEnvironment(name, value);
    props.cluster.grantConsume(this.compactor, config.consumerGroup);
    props.lake.grantCompactor(this.compactor);

    this.generatorSchedule = this.schedule('GeneratorSchedule', this.generator, config.generatorEveryMinutes, config.schedulesEnabled);
    this.compactorSchedule = this.schedule('CompactorSchedule', this.compactor, config.compactorEveryMinutes, config.schedulesEnabled);

    Validations.of(this.deadLetterQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the functions and schedules.' });
    const stack = Stack.of(this);
    for (const fn of [this.generator, this.compactor]) {
      for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
        Validations.of(fn.role!).acknowledge({
          id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
          reason: 'The AWS-maintained minimum for writing logs and attaching VPC network interfaces (which need Resource *).',
        });
      }
      // The scheduler's role may invoke the function and its versions: `<function arn>:*`.
      Validations.of(stack).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'EventBridge Scheduler invokes only this function (and its qualified versions).',
      });
    }
  }

  private pipelineFunction(id: string, handler: string, memoryMiB: number, timeoutSeconds: number, props: PipelineFunctionsProps, concurrency?: number) {
    const fn = new nodejs.NodejsFunction(this, id, {
      ...NODE_FUNCTION_DEFAULTS,
      entry: handlerEntry(handler),
      memorySize: memoryMiB,
      timeout: Duration.seconds(timeoutSeconds),
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      // Egress only where the function must go: the brokers (opened by the cluster's grants) and S3.
      allowAllOutbound: false,
      // One compactor run at a time: concurrent runs stay correct but would only redo the same work.
      reservedConcurrentExecutions: concurrency,
      logGroup: new logs.LogGroup(this, `${id}Logs`, { retention: props.config.lambdaLogRetentionDays, removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN }),
      tracing: props.config.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      // The schedule retries delivery; a failed run is not retried by Lambda (the next run catches up).
      retryAttempts: 0,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    if (props.config.tracing) {
      Validations.of(fn.role!).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions.' });
    }
    // The subnets have no route but the S3 gateway endpoint (and X-Ray's when tracing), so HTTPS egress reaches only those.
    fn.connections.allowToAnyIpv4(ec2.Port.tcp(443), 'HTTPS to S3 through the gateway endpoint');
    return fn;
  }

  private schedule(id: string, fn: lambda.IFunction, everyMinutes: number, enabled: boolean): scheduler.Schedule {
    return new scheduler.Schedule(this, id, {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(everyMinutes)),
      description: `Invokes ${fn.node.id} every ${everyMinutes} minute(s)`,
      enabled,
      target: new targets.LambdaInvoke(fn, {
        input: scheduler.ScheduleTargetInput.fromObject({ scheduledTime: scheduler.ContextAttribute.scheduledTime }),
        retryAttempts: 2,
        maxEventAge: Duration.minutes(everyMinutes),
        deadLetterQueue: this.deadLetterQueue,
      }),
    });
  }
}
