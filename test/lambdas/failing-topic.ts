import type { TopicReader } from '../../lambdas/ports/topic.ts';

/** What {@link failingFromRead}'s reads throw. */
export const BROKERS_GONE = 'the brokers stopped answering';

/**
 * `topic` whose `read` throws from its `failingRead`-th call on (counting from 1): the run that
 * makes that call has claimed its ranges, and fails before its commit.
 */
export function failingFromRead(topic: TopicReader, failingRead: number): TopicReader {
  let reads = 0;
  return {
    offsets: () => topic.offsets(),
    commitOffsets: (group, offsets) => topic.commitOffsets(group, offsets),
    close: () => topic.close(),
    read: (partition, from, to) => {
      if (++reads >= failingRead) throw new Error(BROKERS_GONE);
      return topic.read(partition, from, to);
    },
  };
}
