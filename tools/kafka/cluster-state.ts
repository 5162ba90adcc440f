import { Connection, describeQuorumV2, metadataV12, type ResponseError } from '@platformatic/kafka';

type MetadataResponse = metadataV12.MetadataResponse;

/** Leadership and replication of one partition, as the cluster's metadata says. */
export interface PartitionState {
  readonly partition: number;
  /** Node id of the leader; -1 while the partition has none. */
  readonly leader: number;
  readonly leaderEpoch: number;
  /** Node ids of the replicas, the preferred leader first. */
  readonly replicas: readonly number[];
  /** Node ids of the in-sync replicas. */
  readonly isr: readonly number[];
}

/** One voter of the metadata quorum. */
export interface VoterState {
  readonly id: number;
  /** The voter's log is at the quorum's high watermark, or was moments ago. */
  readonly caughtUp: boolean;
}

/** What the cluster's metadata and its metadata quorum say now. */
export interface ClusterState {
  /** Ids of the registered, unfenced brokers. */
  readonly brokers: number[];
  /** Every topic asked for (every topic, internal ones too, when none were), with its partitions. */
  readonly topics: Map<string, PartitionState[]>;
  /** The active controller (-1 while there is none) and the voters. */
  readonly quorum: { readonly leader: number; readonly voters: VoterState[] };
}

const METADATA_TOPIC = '__cluster_metadata';
// A voter whose log reached the leader's within this long counts as caught up: followers fetch
// continuously, so a live one catches up again every few hundred milliseconds.
const CAUGHT_UP_WITHIN_MS = 5_000;
const TIMEOUTS = { connectTimeout: 1_000, requestTimeout: 5_000 };

/**
 * The cluster's state, asked of the first broker of `bootstrap` that answers (pass the running
 * ones: a dead one would only slow the question down). By the protocol's Metadata and
 * DescribeQuorum requests (a broker forwards the latter to the active controller): the Admin
 * client of `@platformatic/kafka` leaves internal topics out of its metadata and does not wrap
 * DescribeQuorum; its protocol layer has both.
 */
export async function clusterState(bootstrap: readonly string[], topics?: readonly string[]): Promise<ClusterState> {
  let lastError: unknown;
  for (const address of bootstrap) {
    const [host, port] = address.split(':');
    const connection = new Connection('streamlake-cluster-harness', TIMEOUTS);
    try {
      await connection.connect(host!, Number(port));
      return await stateFrom(connection, topics);
    } catch (error) {
      lastError = error;
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
  throw lastError;
}

async function stateFrom(connection: Connection, topics: readonly string[] | undefined): Promise<ClusterState> {
  // A partition without a leader comes with an error code; the response still says what it knows.
  const metadata = await metadataV12.api.async(connection, topics === undefined ? null : [...topics], false, false).catch((error: ResponseError) => {
    if (error.response === undefined) throw error;
    return error.response as MetadataResponse;
  });
  const state = new Map<string, PartitionState[]>();
  for (const topic of metadata.topics) {
    if (!topic.name || topic.partitions.length === 0) continue; // unknown topic
    const partitions = topic.partitions
      .map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicaNodes, isr: p.isrNodes }))
      .sort((a, b) => a.partition - b.partition);
    state.set(topic.name, partitions);
  }
  const quorum = await describeQuorumV2.api.async(connection, [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }]);
  const partition = quorum.topics[0]!.partitions[0]!;
  const now = Date.now();
  return {
    brokers: metadata.brokers.map((b) => b.nodeId).sort(),
    topics: state,
    quorum: {
      leader: partition.leaderId,
      voters: partition.currentVoters.map((v) => ({ id: v.replicaId, caughtUp: v.replicaId === partition.leaderId || now - Number(v.lastCaughtUpTimestamp) < CAUGHT_UP_WITHIN_MS })),
    },
  };
}
