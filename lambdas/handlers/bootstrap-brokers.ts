import { DescribeClusterV2Command, GetBootstrapBrokersCommand, KafkaClient } from '@aws-sdk/client-kafka';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';

/** What the broker lookup custom resource declares. */
interface BootstrapBrokersProperties {
  readonly ClusterArn: string;
}

/** What CloudFormation gets back from the Provider framework. */
export interface BootstrapBrokersResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly BootstrapBrokerStringSaslIam: string };
}

/** The cluster failed or is being deleted: its brokers will never answer. */
export class ClusterFailedError extends Error {
  override name = 'ClusterFailedError';
}

/** The cluster did not become ACTIVE before the lookup ran out of time. */
export class ClusterNotActiveError extends Error {
  override name = 'ClusterNotActiveError';
}

/** The cluster has no SASL/IAM listener, the only one the pipeline's clients use. */
export class MissingIamBrokersError extends Error {
  override name = 'MissingIamBrokersError';
}

export interface BootstrapBrokersDependencies {
  /** Builds the MSK API client (called once per request, never at module load). */
  readonly kafka: () => KafkaClient;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** Time between two DescribeClusterV2 calls while the cluster is not ACTIVE. */
  readonly pollIntervalMs: number;
  /** Time kept back from the function's remaining time to answer CloudFormation. */
  readonly marginMs: number;
}

const DEFAULT_DEPENDENCIES: BootstrapBrokersDependencies = {
  kafka: () => new KafkaClient({}),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
  pollIntervalMs: 15_000,
  marginMs: 20_000,
};

// States from which a cluster never comes back to ACTIVE on its own.
const TERMINAL_STATES: ReadonlySet<string> = new Set(['FAILED', 'DELETING']);

/**
 * The custom resource that resolves an MSK cluster's SASL/IAM bootstrap brokers (provisioned or
 * serverless): waits with DescribeClusterV2 until the cluster is ACTIVE, then asks
 * GetBootstrapBrokers. `AWS::MSK::Cluster` and `AWS::MSK::ServerlessCluster` have no attribute for
 * them. Deleting the resource touches nothing.
 */
export function createBootstrapBrokersHandler(overrides: Partial<BootstrapBrokersDependencies> = {}) {
  const deps = { ...DEFAULT_DEPENDENCIES, ...overrides };
  return async (event: CloudFormationCustomResourceEvent, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<BootstrapBrokersResponse> => {
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const { ClusterArn } = event.ResourceProperties as unknown as BootstrapBrokersProperties;
    const kafka = deps.kafka();
    const deadline = deps.now() + context.getRemainingTimeInMillis() - deps.marginMs;
    for (;;) {
      const { ClusterInfo } = await kafka.send(new DescribeClusterV2Command({ ClusterArn }));
      const state = ClusterInfo?.State ?? 'unknown';
      if (state === 'ACTIVE') break;
      if (TERMINAL_STATES.has(state)) {
        const reason = ClusterInfo?.StateInfo ? `: ${ClusterInfo.StateInfo.Code ?? ''} ${ClusterInfo.StateInfo.Message ?? ''}`.trimEnd() : '';
        throw new ClusterFailedError(`MSK cluster ${ClusterArn} is ${state}${reason}; it has no brokers to connect to. Fix or delete the cluster in the MSK console, then deploy again.`);
      }
      if (deps.now() + deps.pollIntervalMs > deadline) {
        throw new ClusterNotActiveError(`MSK cluster ${ClusterArn} is still ${state}, not ACTIVE; deploy again once the MSK console shows it Active.`);
      }
      await deps.sleep(deps.pollIntervalMs);
    }
    const brokers = await kafka.send(new GetBootstrapBrokersCommand({ ClusterArn }));
    if (!brokers.BootstrapBrokerStringSaslIam) {
      throw new MissingIamBrokersError(`MSK cluster ${ClusterArn} has no SASL/IAM bootstrap brokers; turn on IAM client authentication (clientAuthentication.sasl.iam) for the cluster.`);
    }
    return { PhysicalResourceId: ClusterArn, Data: { BootstrapBrokerStringSaslIam: brokers.BootstrapBrokerStringSaslIam } };
  };
}

export const handler = createBootstrapBrokersHandler();
