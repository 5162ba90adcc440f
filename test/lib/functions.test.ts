import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/handlers/environment.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { BUNDLED_TABLES_DIR } from '../../lib/functions/lambda-defaults.ts';
import type { KafkaTopic } from '../../lib/streaming/kafka-topic.ts';
import { resourcesOf, synthStack } from '../helpers/synth.ts';

const { template, stack } = synthStack();
const generator = stack.functions.generator!;
const compactor = stack.functions.compactors.get('device_logs')!.fn;
const functionId = (fn: object) => stack.getLogicalId((fn as { node: { defaultChild: never } }).node.defaultChild);
const props = (fn: object) => template.toJSON().Resources[functionId(fn)].Properties;

describe('pipeline Lambdas', () => {
  it('run Node.js 24 on ARM64 in the private subnets, with JSON logs and the configured size', () => {
    for (const [fn, memory, timeout] of [
      [generator, DEFAULTS.generatorMemoryMiB, DEFAULTS.generatorTimeoutSeconds],
      [compactor, DEFAULTS.compactorMemoryMiB, DEFAULTS.compactorTimeoutSeconds],
    ] as const) {
      expect(props(fn)).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], MemorySize: memory, Timeout: timeout, LoggingConfig: expect.objectContaining({ LogFormat: 'JSON' }) });
      expect(props(fn).VpcConfig.SubnetIds).toHaveLength(2);
    }
  });

  it('reserve no concurrency, which new accounts cannot spare', () => {
    // Reserving concurrency fails function creation in new accounts (quota 10); concurrent compactors are safe.
    expect(props(compactor).ReservedConcurrentExecutions).toBeUndefined();
    expect(props(generator).ReservedConcurrentExecutions).toBeUndefined();
  });

  it('give each handler the environment it reads, by the shared names', () => {
    const generatorEnv = props(generator).Environment.Variables;
    const compactorEnv = props(compactor).Environment.Variables;
    expect(generatorEnv).toMatchObject({ [ENV.devices]: '100', [ENV.seed]: '42', [ENV.topic]: 'device-logs', [ENV.bootstrapBrokers]: expect.anything() });
    expect(compactorEnv).toMatchObject({
      [ENV.codec]: 'snappy',
      [ENV.table]: 'device_logs',
      [ENV.tablesDir]: BUNDLED_TABLES_DIR,
      [ENV.consumerGroup]: DEFAULTS.consumerGroup,
      [ENV.lakeBucket]: expect.anything(),
      [ENV.bootstrapBrokers]: expect.anything(),
      [ENV.maxRecordsPerRun]: String(DEFAULTS.maxRecordsPerRun),
    });
    // The compactor takes its topic from its table's declaration.
    expect(compactorEnv[ENV.topic]).toBeUndefined();
    expect(compactorEnv[ENV.devices]).toBeUndefined();
  });

  it('keep their logs for the configured days and send failed async invocations to the dead-letter queue', () => {
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 2);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: Match.anyValue() } } });
    expect(resourcesOf(template, 'AWS::Logs::LogGroup').filter(([, g]) => g.Properties.RetentionInDays === DEFAULTS.lambdaLogRetentionDays)).toHaveLength(2);
  });

  it('trace with X-Ray only when asked, with no endpoint for it (Lambda sends the segments itself)', () => {
    expect(props(compactor).TracingConfig).toBeUndefined();
    const traced = synthStack({ tracing: true });
    const tracedCompactor = traced.stack.functions.compactors.get('device_logs')!.fn;
    expect(traced.template.toJSON().Resources[traced.stack.getLogicalId(tracedCompactor.node.defaultChild as never)].Properties.TracingConfig).toEqual({ Mode: 'Active' });
    traced.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'] })]) },
    });
    const endpointServices = (t: Template) => resourcesOf(t, 'AWS::EC2::VPCEndpoint').map(([, e]) => JSON.stringify(e.Properties.ServiceName)).sort();
    expect(endpointServices(traced.template)).toEqual(endpointServices(template));
  });
});

describe('schedules', () => {
  const schedules = resourcesOf(template, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties);

  it('invoke the generator every minute and the compactor every 5 minutes, with retries and a dead-letter queue', () => {
    expect(schedules.map((s) => s.ScheduleExpression).sort()).toEqual(['rate(1 minute)', 'rate(5 minutes)']);
    for (const schedule of schedules) {
      expect(schedule.State).toBe('ENABLED');
      expect(schedule.Target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: expect.any(Number) });
      expect(schedule.Target.DeadLetterConfig.Arn).toBeDefined();
    }
    const inputOf = (expression: string) => JSON.parse(schedules.find((s) => s.ScheduleExpression === expression)!.Target.Input);
    expect(inputOf('rate(1 minute)')).toEqual({ scheduledTime: '<aws.scheduler.scheduled-time>' });
    // One compactor shard by default: shard 0, on the schedule's construct ID of before shards.
    expect(inputOf('rate(5 minutes)')).toEqual({ shard: 0 });
    expect(stack.functions.compactors.get('device_logs')!.schedules.map((schedule) => schedule.node.id)).toEqual(['CompactorSchedule']);
  });

  it.each(['provisioned', 'serverless'] as const)('wait for their topic and their function role\'s policy before the first invocation (MSK %s)', (mskMode) => {
    // Every shard's schedule waits as the one of an unsharded compactor does.
    const synth = synthStack({ mskMode, compactorShards: 3 });
    const resources = synth.template.toJSON().Resources as Record<string, { Type: string; DependsOn?: string[] }>;
    const id = (construct: { node: { defaultChild?: unknown } }) => synth.stack.getLogicalId(construct.node.defaultChild as never);
    const topicType = mskMode === 'provisioned' ? 'AWS::MSK::Topic' : 'Custom::KafkaTopic';
    const compactorOf = synth.stack.functions.compactors.get('device_logs')!;
    for (const [schedule, fn] of [
      [synth.stack.functions.generatorSchedule!, synth.stack.functions.generator!],
      ...compactorOf.schedules.map((each) => [each, compactorOf.fn] as const),
    ] as const) {
      const dependsOn = resources[id(schedule)]!.DependsOn ?? [];
      const policy = synth.stack.getLogicalId(fn.role!.node.findChild('DefaultPolicy').node.defaultChild as never);
      expect(dependsOn).toContain(policy);
      // device-logs keeps its first topic's construct ID, `Topic`.
      const topic = (synth.stack.kafka.node.findChild('Topic') as KafkaTopic).resource;
      expect(dependsOn.filter((dep) => resources[dep]!.Type === topicType)).toEqual([synth.stack.getLogicalId((topic.node.defaultChild ?? topic) as never)]);
    }
  });

  it('follow the configured cadence and can be deployed paused', () => {
    const custom = resourcesOf(synthStack({ generatorEveryMinutes: 2, compactorEveryMinutes: 15, schedulesEnabled: false }).template, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties);
    expect(custom.map((s) => s.ScheduleExpression).sort()).toEqual(['rate(15 minutes)', 'rate(2 minutes)']);
    expect(custom.every((s) => s.State === 'DISABLED')).toBe(true);
  });
});

describe('compactor shards', () => {
  const SHARDS = 3;
  const sharded = synthStack({ compactorShards: SHARDS });
  const compactorOf = sharded.stack.functions.compactors.get('device_logs')!;
  const id = (construct: { node: { defaultChild?: unknown } }) => sharded.stack.getLogicalId(construct.node.defaultChild as never);
  const compactorSchedules = resourcesOf(sharded.template, 'AWS::Scheduler::Schedule')
    .map(([, s]) => s.Properties)
    .filter((s) => JSON.stringify(s.Target.Arn).includes(id(compactorOf.fn)));

  it('invoke the one compactor function with one schedule per shard, each naming its shard', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    expect(compactorSchedules).toHaveLength(SHARDS);
    expect(compactorSchedules.map((s) => JSON.parse(s.Target.Input)).sort((a, b) => a.shard - b.shard)).toEqual([{ shard: 0 }, { shard: 1 }, { shard: 2 }]);
    for (const schedule of compactorSchedules) {
      expect(schedule).toMatchObject({ ScheduleExpression: `rate(${DEFAULTS.compactorEveryMinutes} minutes)`, State: 'ENABLED' });
      expect(schedule.Target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: DEFAULTS.compactorEveryMinutes * 60 });
      expect(schedule.Target.DeadLetterConfig.Arn).toBeDefined();
      expect(schedule.Target.Arn).toEqual({ 'Fn::GetAtt': [id(compactorOf.fn), 'Arn'] });
    }
    expect(resourcesOf(sharded.template, 'AWS::Lambda::Function').filter(([, fn]) => fn.Properties.Environment?.Variables?.[ENV.table] === 'device_logs')).toHaveLength(1);
    // Shard 0 keeps the schedule of an unsharded compactor, so growing to N adds schedules and replaces none.
    expect(compactorOf.schedules.map((schedule) => schedule.node.id)).toEqual(['CompactorSchedule', 'CompactorSchedule1', 'CompactorSchedule2']);
    expect(id(compactorOf.schedules[0]!)).toBe(id(stack.functions.compactors.get('device_logs')!.schedules[0]!));
  });

  it('tell the compactor how many shards there are, and follow the schedule settings on every shard', () => {
    expect(props(compactor).Environment.Variables[ENV.compactorShards]).toBe('1');
    expect(sharded.template.toJSON().Resources[id(compactorOf.fn)].Properties.Environment.Variables[ENV.compactorShards]).toBe(String(SHARDS));
    const paused = synthStack({ compactorShards: 2, compactorEveryMinutes: 10, schedulesEnabled: false });
    const pausedSchedules = resourcesOf(paused.template, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties).filter((s) => 'shard' in JSON.parse(s.Target.Input));
    expect(pausedSchedules.map((s) => [s.ScheduleExpression, s.State])).toEqual([['rate(10 minutes)', 'DISABLED'], ['rate(10 minutes)', 'DISABLED']]);
  });

  it('scale with the partitions: as many shards as partitions, and no more', () => {
    const most = synthStack({ compactorShards: DEFAULTS.partitions });
    expect(most.stack.functions.compactors.get('device_logs')!.schedules).toHaveLength(DEFAULTS.partitions);
    expect(() => synthStack({ compactorShards: DEFAULTS.partitions + 1 })).toThrow(/compactorShards must not exceed partitions \(6\)/);
  });
});
