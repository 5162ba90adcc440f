import { compatibilityPartitioner } from '@platformatic/kafka';

/**
 * The partition Kafka's Java default partitioner picks for a key: `toPositive(murmur2(key)) % n`.
 * `@platformatic/kafka`'s own default (`murmur2 >>> 0`) differs for negative hashes, so the Kafka
 * adapter and the embedded log both use this one and agree with every Java client on the topic.
 */
export function partitionForKey(key: string, partitions: number): number {
  return compatibilityPartitioner(undefined as never, Buffer.from(key)) % partitions;
}
