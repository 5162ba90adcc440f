import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { S3ObjectStore, S3StoreError } from '../../lambdas/adapters/s3-store.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import { createUniqueBucket, s3ClientOf } from '../../tools/s3/client.ts';
import { isConditionalPut, loseResponses, type LostResponses } from '../../tools/s3/lost-responses.ts';
import { objectStoreContract } from '../helpers/object-store-contract.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const RACERS = 20;

describe('object store port on S3 (S3Proxy)', () => {
  const client = s3ClientOf(inject('s3'));
  objectStoreContract(async () => ({ store: new S3ObjectStore(client, await createUniqueBucket(client)) }));
});

describe('S3ObjectStore on S3Proxy', () => {
  it.each([
    ['putIfAbsent', (store: ObjectStore) => store.putIfAbsent('a.json', bytes('x'))],
    ['compareAndSwap', (store: ObjectStore) => store.compareAndSwap('a.json', bytes('x'), '"etag"')],
    ['get', (store: ObjectStore) => store.get('a.json')],
    ['list', (store: ObjectStore) => store.list('')],
    ['delete', (store: ObjectStore) => store.delete('a.json')],
  ])('fails %s on a missing bucket with an S3StoreError that names it, instead of reading it as a missing object', async (_op, call) => {
    const bucket = `streamlake-missing-${randomUUID().slice(0, 8)}`;
    const failure = call(new S3ObjectStore(s3ClientOf(inject('s3')), bucket));
    await expect(failure).rejects.toBeInstanceOf(S3StoreError);
    await expect(failure).rejects.toThrow(`the bucket ${bucket} does not exist (NoSuchBucket)`);
  });
});

// The server applies each conditional PutObject, its first response is lost, and the SDK's own
// retry sends the same request again: the retry meets the object its first attempt wrote.
describe('S3ObjectStore on S3Proxy when the first response of every conditional write is lost', () => {
  /** A bucket, a store on it whose client loses responses, and a store with a clean client to look. */
  async function lossyStore(): Promise<{ store: S3ObjectStore; fault: LostResponses; reader: S3ObjectStore }> {
    const endpoint = inject('s3');
    const reader = new S3ObjectStore(s3ClientOf(endpoint), await createUniqueBucket(s3ClientOf(endpoint)));
    return { ...lossyWriter(reader.bucket), reader };
  }

  function lossyWriter(bucket: string): { store: S3ObjectStore; fault: LostResponses } {
    const client = s3ClientOf(inject('s3'));
    return { store: new S3ObjectStore(client, bucket), fault: loseResponses(client, isConditionalPut) };
  }

  it('answers created for a create-once write that landed, and exists when another writer created the key', async () => {
    const { store, fault, reader } = await lossyStore();
    expect(await store.putIfAbsent('curated/run-1.parquet', bytes('mine'))).toBe('created');
    expect(fault.lost).toBe(1);
    expect(decoder.decode((await reader.get('curated/run-1.parquet'))!.body)).toBe('mine');

    await reader.putIfAbsent('curated/run-2.parquet', bytes('theirs'));
    expect(await store.putIfAbsent('curated/run-2.parquet', bytes('mine'))).toBe('exists');
    expect(fault.lost).toBe(2);
    expect(decoder.decode((await reader.get('curated/run-2.parquet'))!.body)).toBe('theirs');
  });

  it('answers ok with the current ETag for swaps that landed, from null and from an ETag, and a conflict for a stale ETag', async () => {
    const { store, fault, reader } = await lossyStore();
    const created = await store.compareAndSwap('cp.json', bytes('{"sequence":1}'), null);
    expect(created).toEqual({ ok: true, etag: (await reader.get('cp.json'))!.etag });
    const swapped = await store.compareAndSwap('cp.json', bytes('{"sequence":2}'), (created as { etag: string }).etag);
    expect(swapped).toEqual({ ok: true, etag: (await reader.get('cp.json'))!.etag });
    expect(await store.compareAndSwap('cp.json', bytes('{"sequence":3}'), (created as { etag: string }).etag)).toEqual({ ok: false });
    expect(await store.compareAndSwap('cp.json', bytes('{"sequence":3}'), null)).toEqual({ ok: false });
    expect(fault.lost).toBe(4);
    expect(decoder.decode((await reader.get('cp.json'))!.body)).toBe('{"sequence":2}');
  });

  // One client per writer, as racing compactors each have their own (and the SDK's retry quota is per client).
  it(`still lets exactly one of ${RACERS} racing writers win, for create-once writes and for swaps from one ETag`, async () => {
    const { reader } = await lossyStore();
    const writers = Array.from({ length: RACERS }, () => lossyWriter(reader.bucket));
    const creates = await Promise.all(writers.map(({ store }, i) => store.putIfAbsent('race/file.parquet', bytes(`writer-${i}`))));
    expect(creates.filter((r) => r === 'created')).toHaveLength(1);
    expect(decoder.decode((await reader.get('race/file.parquet'))!.body)).toBe(`writer-${creates.indexOf('created')}`);

    await reader.compareAndSwap('race/cp.json', bytes('v0'), null);
    const { etag } = (await reader.get('race/cp.json'))!;
    const swaps = await Promise.all(writers.map(({ store }, i) => store.compareAndSwap('race/cp.json', bytes(`v1-${i}`), etag)));
    const winner = swaps.findIndex((r) => r.ok);
    expect(swaps.filter((r) => r.ok)).toHaveLength(1);
    expect(swaps[winner]).toEqual({ ok: true, etag: (await reader.get('race/cp.json'))!.etag });
    expect(decoder.decode((await reader.get('race/cp.json'))!.body)).toBe(`v1-${winner}`);
    expect(writers.map(({ fault }) => fault.lost)).toEqual(writers.map(() => 2));
  });
});
