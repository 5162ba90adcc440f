import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { contentTypeOf, S3ObjectStore, S3StoreError } from '../../../lambdas/adapters/s3-store.ts';
import { compact, type CompactionReport } from '../../../lambdas/core/compactor.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import type { ObjectStore } from '../../../lambdas/ports/object-store.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorOptions } from '../../../src/local/runner.ts';
import { conditionalConflict, FakeS3, noSuchKey, objectBody, preconditionFailed, s3Error } from '../../helpers/fake-s3.ts';
import { FaultyStore, InjectedCrash } from '../../helpers/faulty-store.ts';
import { auditLake, tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const BUCKET = 'lake-bucket';
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('S3ObjectStore', () => {
  const s3 = mockClient(S3Client);
  let store: S3ObjectStore;

  beforeEach(() => {
    s3.reset();
    store = new S3ObjectStore(new S3Client({ region: 'eu-west-1' }), BUCKET);
  });

  afterAll(() => s3.restore());

  const putInputs = () => s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);

  describe('putIfAbsent', () => {
    it('sends one PutObject with If-None-Match: * and the content type of the key', async () => {
      s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
      const body = bytes('parquet bytes');

      expect(await store.putIfAbsent('curated/device_logs/dt=2026-01-15/hour=09/run-1.parquet', body)).toBe('created');
      expect(putInputs()).toEqual([
        { Bucket: BUCKET, Key: 'curated/device_logs/dt=2026-01-15/hour=09/run-1.parquet', Body: body, IfNoneMatch: '*', ContentType: 'application/vnd.apache.parquet' },
      ]);
    });

    it('answers exists when S3 says 412 PreconditionFailed', async () => {
      s3.on(PutObjectCommand).rejects(preconditionFailed());
      expect(await store.putIfAbsent('quarantine/device_logs/dt=2026-01-15/run-1.ndjson', bytes('x'))).toBe('exists');
      expect(putInputs()).toHaveLength(1);
    });

    it('retries the same write after a 409 ConditionalRequestConflict and creates the object', async () => {
      s3.on(PutObjectCommand).rejectsOnce(conditionalConflict()).resolves({ ETag: '"e1"' });
      expect(await store.putIfAbsent('a.json', bytes('x'))).toBe('created');
      const inputs = putInputs();
      expect(inputs).toHaveLength(2);
      expect(inputs[1]).toEqual(inputs[0]);
      expect(inputs[1]).toMatchObject({ IfNoneMatch: '*', ContentType: 'application/json' });
    });

    it('answers exists when the retry after a 409 finds the object the concurrent writer created', async () => {
      s3.on(PutObjectCommand).rejectsOnce(conditionalConflict()).rejects(preconditionFailed());
      expect(await store.putIfAbsent('a.json', bytes('x'))).toBe('exists');
      expect(putInputs()).toHaveLength(2);
    });

    it('gives up with an S3StoreError after 4 conflicts in a row', async () => {
      s3.on(PutObjectCommand).rejects(conditionalConflict());
      await expect(store.putIfAbsent('a.json', bytes('x'))).rejects.toThrow(S3StoreError);
      await expect(store.putIfAbsent('a.json', bytes('x'))).rejects.toThrow(/409 ConditionalRequestConflict.*run again/);
      expect(putInputs()).toHaveLength(8);
    });

    it('passes any other error on without retrying', async () => {
      const denied = s3Error('AccessDenied', 403, 'Access Denied');
      s3.on(PutObjectCommand).rejects(denied);
      await expect(store.putIfAbsent('a.json', bytes('x'))).rejects.toBe(denied);
      expect(putInputs()).toHaveLength(1);
    });
  });

  describe('compareAndSwap', () => {
    it('sends If-Match with the expected ETag and returns the new ETag', async () => {
      s3.on(PutObjectCommand).resolves({ ETag: '"new"' });
      const body = bytes('{"sequence":2}');

      expect(await store.compareAndSwap('checkpoints/device_logs/g.json', body, '"old"')).toEqual({ ok: true, etag: '"new"' });
      expect(putInputs()).toEqual([{ Bucket: BUCKET, Key: 'checkpoints/device_logs/g.json', Body: body, IfMatch: '"old"', ContentType: 'application/json' }]);
    });

    it('sends If-None-Match: * when the object must not exist yet', async () => {
      s3.on(PutObjectCommand).resolves({ ETag: '"first"' });
      const body = bytes('{"sequence":1}');

      expect(await store.compareAndSwap('checkpoints/device_logs/g.json', body, null)).toEqual({ ok: true, etag: '"first"' });
      expect(putInputs()).toEqual([{ Bucket: BUCKET, Key: 'checkpoints/device_logs/g.json', Body: body, IfNoneMatch: '*', ContentType: 'application/json' }]);
    });

    it.each([
      { reply: '412 PreconditionFailed', error: preconditionFailed, expected: '"old"' },
      { reply: '412 PreconditionFailed', error: preconditionFailed, expected: null },
      { reply: '409 ConditionalRequestConflict', error: conditionalConflict, expected: '"old"' },
      { reply: '404 NoSuchKey (deleted since read)', error: noSuchKey, expected: '"old"' },
    ])('reports a conflict on $reply with expected ETag $expected, without retrying', async ({ error, expected }) => {
      s3.on(PutObjectCommand).rejects(error());
      expect(await store.compareAndSwap('cp.json', bytes('x'), expected)).toEqual({ ok: false });
      expect(putInputs()).toHaveLength(1);
    });
  });

  // The SDK resends a request whose response was lost (a reset connection, a timeout); when the
  // first attempt was applied, the resent conditional write fails its condition on its own object.
  describe('after the SDK resent a conditional write', () => {
    const getInputs = () => s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input);

    it('answers created when the 412 came on a resent create-once write and the object holds its bytes', async () => {
      s3.on(PutObjectCommand).rejects(preconditionFailed(2)).on(GetObjectCommand).resolves({ Body: objectBody(bytes('mine')), ETag: '"e1"' });
      expect(await store.putIfAbsent('a.parquet', bytes('mine'))).toBe('created');
      expect(getInputs()).toEqual([{ Bucket: BUCKET, Key: 'a.parquet' }]);
    });

    it('answers exists when the object holds other bytes: another writer created it', async () => {
      s3.on(PutObjectCommand).rejects(preconditionFailed(3)).on(GetObjectCommand).resolves({ Body: objectBody(bytes('theirs')), ETag: '"e1"' });
      expect(await store.putIfAbsent('a.parquet', bytes('mine'))).toBe('exists');
    });

    it('answers exists without reading the object when the 412 came on the first attempt', async () => {
      s3.on(PutObjectCommand).rejects(preconditionFailed(1));
      expect(await store.putIfAbsent('a.parquet', bytes('mine'))).toBe('exists');
      expect(getInputs()).toEqual([]);
    });

    it('remembers a resend across its own retries after a 409: a later 412 is checked against the object', async () => {
      s3.on(PutObjectCommand).rejectsOnce(conditionalConflict(2)).rejects(preconditionFailed(1)).on(GetObjectCommand).resolves({ Body: objectBody(bytes('mine')), ETag: '"e1"' });
      expect(await store.putIfAbsent('a.parquet', bytes('mine'))).toBe('created');
      expect(putInputs()).toHaveLength(2);
    });

    it.each([
      { reply: '412 PreconditionFailed', error: () => preconditionFailed(2), expected: '"old"' },
      { reply: '412 PreconditionFailed', error: () => preconditionFailed(2), expected: null },
      { reply: '409 ConditionalRequestConflict', error: () => conditionalConflict(2), expected: '"old"' },
    ])('swaps with the ETag the object has when $reply came on a resent swap (expected $expected) and the object holds its bytes', async ({ error, expected }) => {
      s3.on(PutObjectCommand).rejects(error()).on(GetObjectCommand).resolves({ Body: objectBody(bytes('{"sequence":2}')), ETag: '"landed"' });
      expect(await store.compareAndSwap('cp.json', bytes('{"sequence":2}'), expected)).toEqual({ ok: true, etag: '"landed"' });
      expect(getInputs()).toEqual([{ Bucket: BUCKET, Key: 'cp.json' }]);
    });

    it('reports a conflict when a resent swap finds other bytes, or no object at all', async () => {
      s3.on(PutObjectCommand).rejects(preconditionFailed(2)).on(GetObjectCommand).resolvesOnce({ Body: objectBody(bytes('{"sequence":3}')), ETag: '"theirs"' }).rejects(noSuchKey());
      expect(await store.compareAndSwap('cp.json', bytes('{"sequence":2}'), '"old"')).toEqual({ ok: false });
      expect(await store.compareAndSwap('cp.json', bytes('{"sequence":2}'), '"old"')).toEqual({ ok: false });
      expect(getInputs()).toHaveLength(2);
    });

    it('reports a conflict without reading the object when the 412 came on the first attempt', async () => {
      s3.on(PutObjectCommand).rejects(preconditionFailed(1));
      expect(await store.compareAndSwap('cp.json', bytes('x'), '"old"')).toEqual({ ok: false });
      expect(getInputs()).toEqual([]);
    });
  });

  // Not read as a missing object (NoSuchKey), which a 404 of GetObject would otherwise suggest.
  describe('a missing bucket', () => {
    it.each([
      ['putIfAbsent', (target: S3ObjectStore) => target.putIfAbsent('a.json', bytes('x'))],
      ['compareAndSwap', (target: S3ObjectStore) => target.compareAndSwap('a.json', bytes('x'), null)],
      ['get', (target: S3ObjectStore) => target.get('a.json')],
      ['list', (target: S3ObjectStore) => target.list('a/')],
      ['delete', (target: S3ObjectStore) => target.delete('a.json')],
    ])('fails %s with an S3StoreError that names the bucket and what to check', async (_op, call) => {
      const noBucket = s3Error('NoSuchBucket', 404, 'The specified bucket does not exist');
      s3.on(PutObjectCommand).rejects(noBucket).on(GetObjectCommand).rejects(noBucket).on(ListObjectsV2Command).rejects(noBucket).on(DeleteObjectCommand).rejects(noBucket);
      const failure = call(store);
      await expect(failure).rejects.toBeInstanceOf(S3StoreError);
      await expect(failure).rejects.toThrow(`the bucket ${BUCKET} does not exist (NoSuchBucket); check the bucket name`);
      await expect(failure).rejects.toMatchObject({ cause: noBucket });
    });
  });

  describe('get', () => {
    it('sends GetObject and returns the body bytes and the ETag', async () => {
      s3.on(GetObjectCommand).resolves({ Body: objectBody(bytes('hello')), ETag: '"abc"' });

      expect(await store.get('checkpoints/device_logs/g.json')).toEqual({ body: bytes('hello'), etag: '"abc"' });
      expect(s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input)).toEqual([{ Bucket: BUCKET, Key: 'checkpoints/device_logs/g.json' }]);
    });

    it('returns undefined for NoSuchKey', async () => {
      s3.on(GetObjectCommand).rejects(noSuchKey());
      expect(await store.get('missing.json')).toBeUndefined();
    });

    it('fails with S3StoreError when S3 returns no ETag', async () => {
      s3.on(GetObjectCommand).resolves({ Body: objectBody(bytes('x')) });
      await expect(store.get('cp.json')).rejects.toThrow(S3StoreError);
    });
  });

  describe('list', () => {
    it('follows continuation tokens and returns every key with its size, sorted', async () => {
      s3.on(ListObjectsV2Command, { ContinuationToken: undefined })
        .resolves({ Contents: [{ Key: 'curated/b', Size: 2, LastModified: new Date(2000) }, { Key: 'curated/a', Size: 1, LastModified: new Date(1000) }], IsTruncated: true, NextContinuationToken: 'page-2' })
        .on(ListObjectsV2Command, { ContinuationToken: 'page-2' })
        .resolves({ Contents: [{ Key: 'curated/c', Size: 3, LastModified: new Date(3000) }], IsTruncated: false });

      expect(await store.list('curated/')).toEqual([
        { key: 'curated/a', size: 1, lastModified: 1000 },
        { key: 'curated/b', size: 2, lastModified: 2000 },
        { key: 'curated/c', size: 3, lastModified: 3000 },
      ]);
      expect(s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input)).toEqual([
        { Bucket: BUCKET, Prefix: 'curated/' },
        { Bucket: BUCKET, Prefix: 'curated/', ContinuationToken: 'page-2' },
      ]);
    });

    it('returns an empty list for an empty prefix', async () => {
      s3.on(ListObjectsV2Command).resolves({ KeyCount: 0, IsTruncated: false });
      expect(await store.list('nothing/')).toEqual([]);
    });
  });

  it('deletes with DeleteObject', async () => {
    s3.on(DeleteObjectCommand).resolves({});
    await store.delete('quarantine/x.ndjson');
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input)).toEqual([{ Bucket: BUCKET, Key: 'quarantine/x.ndjson' }]);
  });

  it.each([
    ['a/run-1.parquet', 'application/vnd.apache.parquet'],
    ['a/run-1.ndjson', 'application/x-ndjson'],
    ['checkpoints/g.json', 'application/json'],
    ['a/notes.txt', 'application/octet-stream'],
    ['a.json/no-extension', 'application/octet-stream'],
  ])('stores %s as %s', (key, type) => {
    expect(contentTypeOf(key)).toBe(type);
  });
});

describe('S3ObjectStore over an in-memory S3', () => {
  let fake: FakeS3;
  let store: S3ObjectStore;

  beforeEach(() => {
    fake = new FakeS3(BUCKET, 3);
    store = new S3ObjectStore(fake.client, BUCKET);
  });

  afterEach(() => fake.mock.restore());

  it('lets exactly one of 20 concurrent create-once writers win, and keeps its body', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.putIfAbsent('race/key.json', bytes(`body-${i}`))));
    expect(results.filter((r) => r === 'created')).toHaveLength(1);
    expect(new TextDecoder().decode((await store.get('race/key.json'))!.body)).toBe(`body-${results.indexOf('created')}`);
  });

  it('lets exactly one of 10 compare-and-swaps from the same ETag win, and returns the ETag get sees', async () => {
    await store.putIfAbsent('cp.json', bytes('v0'));
    const { etag } = (await store.get('cp.json'))!;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.compareAndSwap('cp.json', bytes(`v1-${i}`), etag)));
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toEqual({ ok: true, etag: (await store.get('cp.json'))!.etag });
    expect(await store.compareAndSwap('cp.json', bytes('stale'), etag)).toEqual({ ok: false });
  });

  it('lists across pages and deletes', async () => {
    for (const key of ['p/5', 'p/1', 'p/3', 'p/2', 'p/4', 'q/1']) await store.putIfAbsent(key, bytes(key));
    expect((await store.list('p/')).map((e) => e.key)).toEqual(['p/1', 'p/2', 'p/3', 'p/4', 'p/5']);
    await store.delete('p/3');
    expect((await store.list('p/')).map((e) => e.key)).toEqual(['p/1', 'p/2', 'p/4', 'p/5']);
  });

  describe('under the compactor', () => {
    const START = Date.UTC(2026, 0, 15, 9, 30);
    const MINUTE = 60_000;
    let dir: ReturnType<typeof tempDir>;
    let log: LocalLog;
    let fleet: DeviceFleet;
    let minute: number;

    beforeEach(async () => {
      dir = tempDir();
      log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: 'device-logs', partitions: 4 });
      fleet = new DeviceFleet({ ...DEFAULTS, devices: 30, seed: 7, lateShare: 0.2, corruptShare: 0.03 });
      minute = 0;
    });

    afterEach(async () => {
      await log.close();
      dir.remove();
    });

    async function produceMinutes(count: number): Promise<void> {
      for (let i = 0; i < count; i++) await produceMinute(fleet, log, START + ++minute * MINUTE);
    }

    function run(target: ObjectStore): Promise<CompactionReport> {
      return compact({ topic: log, store: target, encoder: parquetEncoder(), clock: { now: () => START + minute * MINUTE } }, compactorOptions(DEFAULTS, DEVICE_LOGS));
    }

    async function contents(target: ObjectStore): Promise<Map<string, Uint8Array>> {
      const entries = await target.list('');
      return new Map(await Promise.all(entries.map(async (e) => [e.key, (await target.get(e.key))!.body] as const)));
    }

    it('writes the same objects, byte for byte, as on a local directory', async () => {
      const local = new LocalDirectoryStore(join(dir.path, 'lake'));
      for (const minutes of [90, 10, 0]) {
        await produceMinutes(minutes);
        const [onS3, onDisk] = [await run(store), await run(local)];
        expect(onS3).toEqual(onDisk);
      }
      const s3Objects = await contents(store);
      expect([...s3Objects.keys()]).toEqual([...(await contents(local)).keys()]);
      expect(s3Objects).toEqual(await contents(local));
      expect([...s3Objects.keys()].some((key) => key.endsWith('.parquet'))).toBe(true);
      expect(fake.objects.get('checkpoints/device_logs/streamlake-compactor.json')?.contentType).toBe('application/json');
    });

    it('keeps every record exactly once when runs crash and race', async () => {
      await produceMinutes(60);
      const crashAfterSecondFile = new FaultyStore(store, (op, _key, nth) => (op === 'putIfAbsent' && nth === 2 ? 'after' : undefined));
      await expect(run(crashAfterSecondFile)).rejects.toThrow(InjectedCrash);
      await produceMinutes(15);
      await Promise.all([run(store), run(store), run(store)]);
      while ((await run(store)).runId !== null);

      const lakeDir = join(dir.path, 'bucket-copy');
      fake.copyTo(lakeDir);
      const offsets = await log.offsets();
      const audit = await auditLake(lakeDir, offsets);
      expect(audit.duplicates).toBe(0);
      expect(audit.incompletePartitions).toEqual([]);
      expect(audit.lakeRows + audit.quarantined).toBe(offsets.reduce((sum, o) => sum + o.highWatermark, 0));
    });
  });
});
