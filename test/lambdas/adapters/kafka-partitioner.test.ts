import { compatibilityPartitioner, defaultPartitioner, murmur2, type MessageToProduce } from '@platformatic/kafka';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../lambdas/adapters/kafka-partitioner.ts';

// The partitioners ignore the message; only the key bytes count.
const message = {} as MessageToProduce;

describe('murmur2', () => {
  // Test vectors from Apache Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java (testMurmur2).
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ])('hashes %j exactly as Kafka does (%i)', (key, expected) => {
    expect(murmur2(Buffer.from(key))).toBe(expected);
  });

  it('hashes the bytes of "abc" exactly as Kafka does', () => {
    expect(murmur2(Buffer.from([97, 98, 99]))).toBe(479470107);
  });
});

describe('partitionForKey', () => {
  it("picks the partition Kafka's Java default partitioner picks: toPositive(murmur2(key)) % n", () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 1, max: 64 }), (key, partitions) => {
        const bytes = Buffer.from(key);
        const partition = partitionForKey(key, partitions);
        expect(partition).toBe((murmur2(bytes) & 0x7fffffff) % partitions);
        expect(partition).toBe(compatibilityPartitioner(message, bytes) % partitions);
        expect(Number.isInteger(partition)).toBe(true);
        expect(partition).toBeGreaterThanOrEqual(0);
        expect(partition).toBeLessThan(partitions);
      }),
      { numRuns: 2_000 },
    );
  });

  it('puts the Kafka test vector keys where the Java client does', () => {
    // toPositive(-973932308) = 1173551340; toPositive(-790332482) = 1357151166.
    expect(partitionForKey('21', 6)).toBe(1173551340 % 6);
    expect(partitionForKey('foobar', 6)).toBe(1357151166 % 6);
    expect(partitionForKey('abc', 6)).toBe(479470107 % 6);
  });

  it("disagrees with the library's defaultPartitioner (murmur2 >>> 0) for keys with a negative hash, which is why it is not used", () => {
    const partitions = 6;
    const keys = Array.from({ length: 100 }, (_, i) => `device-${String(i).padStart(4, '0')}`);
    const disagreeing = keys.filter((key) => defaultPartitioner(message, Buffer.from(key)) % partitions !== partitionForKey(key, partitions));
    // Device-style keys hash negative about half the time; each of those would land elsewhere.
    expect(disagreeing.length).toBeGreaterThan(0);
    expect(disagreeing).toEqual(keys.filter((key) => murmur2(Buffer.from(key)) < 0));
    const key = disagreeing[0]!;
    expect(murmur2(Buffer.from(key))).toBeLessThan(0);
    expect(defaultPartitioner(message, Buffer.from(key)) % partitions).not.toBe(partitionForKey(key, partitions));

    // A fixed example from Kafka's own vectors: "21" hashes negative, so the two partitioners disagree.
    expect(defaultPartitioner(message, Buffer.from('21')) % partitions).toBe(((-973932308 >>> 0) % partitions));
    expect((-973932308 >>> 0) % partitions).not.toBe(partitionForKey('21', partitions));
  });
});
