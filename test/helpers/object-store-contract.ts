import { afterEach, expect, it } from 'vitest';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';

/** A new, empty store as one adapter implements it, and how to dispose of it. */
export interface StoreUnderTest {
  readonly store: ObjectStore;
  readonly close?: () => Promise<void>;
}

/** Opens a new, empty store. */
export type OpenStore = () => Promise<StoreUnderTest>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

// More than two of S3's 1,000-key ListObjectsV2 pages, so listing must follow two continuation tokens.
const LISTED_KEYS = 2_345;
const RACERS = 20;
// Writes a test sends at once when it fills a store: enough to be quick, few enough for one server.
const FILL_CONCURRENCY = 16;

/** Keys that URL encoding, request signing and file names must all carry unchanged. */
const ODD_KEYS: readonly string[] = [
  'odd keys/with space.json',
  'odd keys/a+b=c&d.json',
  'odd keys/100% done%2F%41.json',
  'odd keys/question?hash#tilde~.ndjson',
  "odd keys/quote'paren(star*)!.parquet",
  'odd keys/ünïcødé/日本語.parquet',
  'odd keys/emoji 🚀.json',
];

async function text(store: ObjectStore, key: string): Promise<string | undefined> {
  const object = await store.get(key);
  return object === undefined ? undefined : decoder.decode(object.body);
}

async function inBatches<T>(items: readonly T[], action: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += FILL_CONCURRENCY) await Promise.all(items.slice(i, i + FILL_CONCURRENCY).map(action));
}

function sortedKeys(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * What every implementation of the object store port must do, as `it` cases for the caller's
 * `describe`: the local directory and S3 (on a real S3-compatible server) run the same assertions.
 */
export function objectStoreContract(open: OpenStore): void {
  let opened: StoreUnderTest[] = [];

  afterEach(async () => {
    await Promise.all(opened.map((s) => s.close?.()));
    opened = [];
  });

  async function freshStore(): Promise<ObjectStore> {
    const opening = await open();
    opened.push(opening);
    return opening.store;
  }

  it('creates an object once: putIfAbsent answers created, then exists, and the first body stays', async () => {
    const store = await freshStore();
    expect(await store.putIfAbsent('curated/a/run-1.parquet', bytes('first'))).toBe('created');
    expect(await store.putIfAbsent('curated/a/run-1.parquet', bytes('second'))).toBe('exists');
    expect(await text(store, 'curated/a/run-1.parquet')).toBe('first');
  });

  it('gets undefined for a key that was never written', async () => {
    const store = await freshStore();
    expect(await store.get('checkpoints/none.json')).toBeUndefined();
  });

  it('creates with compareAndSwap from null, and returns the ETag get then sees', async () => {
    const store = await freshStore();
    const swap = await store.compareAndSwap('cp.json', bytes('v1'), null);
    expect(swap).toEqual({ ok: true, etag: (await store.get('cp.json'))!.etag });
    expect(await text(store, 'cp.json')).toBe('v1');
  });

  it('refuses compareAndSwap from null on a key that exists, and leaves it unchanged', async () => {
    const store = await freshStore();
    await store.compareAndSwap('cp.json', bytes('v1'), null);
    await store.putIfAbsent('created-once.json', bytes('c1'));
    expect(await store.compareAndSwap('cp.json', bytes('v2'), null)).toEqual({ ok: false });
    expect(await store.compareAndSwap('created-once.json', bytes('c2'), null)).toEqual({ ok: false });
    expect(await text(store, 'cp.json')).toBe('v1');
    expect(await text(store, 'created-once.json')).toBe('c1');
  });

  it('swaps from the current ETag, returns the new one, and then refuses the stale one', async () => {
    const store = await freshStore();
    await store.compareAndSwap('cp.json', bytes('v1'), null);
    const v1 = (await store.get('cp.json'))!.etag;
    const swap = await store.compareAndSwap('cp.json', bytes('v2'), v1);
    expect(swap).toEqual({ ok: true, etag: (await store.get('cp.json'))!.etag });
    expect(await text(store, 'cp.json')).toBe('v2');

    expect(await store.compareAndSwap('cp.json', bytes('v3'), v1)).toEqual({ ok: false });
    expect(await text(store, 'cp.json')).toBe('v2');
  });

  it('swaps an object that putIfAbsent created, from the ETag get returns', async () => {
    const store = await freshStore();
    await store.putIfAbsent('cp.json', bytes('v1'));
    expect(await store.compareAndSwap('cp.json', bytes('v2'), (await store.get('cp.json'))!.etag)).toMatchObject({ ok: true });
    expect(await text(store, 'cp.json')).toBe('v2');
  });

  it('refuses compareAndSwap with an ETag on a missing key: never written, or deleted since it was read', async () => {
    const store = await freshStore();
    await store.compareAndSwap('cp.json', bytes('v1'), null);
    const etag = (await store.get('cp.json'))!.etag;
    expect(await store.compareAndSwap('other.json', bytes('x'), etag)).toEqual({ ok: false });
    await store.delete('cp.json');
    expect(await store.compareAndSwap('cp.json', bytes('v2'), etag)).toEqual({ ok: false });
    expect(await store.get('cp.json')).toBeUndefined();
    expect(await store.get('other.json')).toBeUndefined();
  });

  it(`lets exactly one of ${RACERS} concurrent putIfAbsent writers create a key, and keeps its body`, async () => {
    const store = await freshStore();
    const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => store.putIfAbsent('race/file.parquet', bytes(`writer-${i}`))));
    expect(results.filter((r) => r === 'created')).toHaveLength(1);
    expect(await text(store, 'race/file.parquet')).toBe(`writer-${results.indexOf('created')}`);
  });

  it(`lets exactly one of ${RACERS} concurrent compareAndSwaps from the same ETag win, with the ETag and body get sees`, async () => {
    const store = await freshStore();
    await store.compareAndSwap('race/cp.json', bytes('v0'), null);
    const { etag } = (await store.get('race/cp.json'))!;
    const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => store.compareAndSwap('race/cp.json', bytes(`v1-${i}`), etag)));
    const winners = results.flatMap((r, i) => (r.ok ? [{ i, etag: r.etag }] : []));
    expect(winners).toHaveLength(1);
    const current = (await store.get('race/cp.json'))!;
    expect(winners[0]!.etag).toBe(current.etag);
    expect(decoder.decode(current.body)).toBe(`v1-${winners[0]!.i}`);
  });

  it(`lets exactly one of ${RACERS} concurrent compareAndSwaps from null create a key`, async () => {
    const store = await freshStore();
    const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => store.compareAndSwap('race/new.json', bytes(`v-${i}`), null)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(await text(store, 'race/new.json')).toBe(`v-${results.findIndex((r) => r.ok)}`);
  });

  it(`lists all ${LISTED_KEYS} keys under a prefix, across S3's 1,000-key pages, sorted and with their sizes`, async () => {
    const store = await freshStore();
    // Written out of order, with sizes that differ by key.
    const keys = Array.from({ length: LISTED_KEYS }, (_, i) => `list/dt=2026-01-${String((i % 28) + 1).padStart(2, '0')}/f-${(i * 7919) % LISTED_KEYS}.parquet`);
    const sizeOf = (key: string) => key.length % 13;
    await inBatches(keys, (key) => store.putIfAbsent(key, new Uint8Array(sizeOf(key))));
    await store.putIfAbsent('listed/neighbour.json', bytes('{}'));
    await store.putIfAbsent('lis', bytes('x'));

    const listed = await store.list('list/');
    expect(listed.map((e) => e.key)).toEqual(sortedKeys(keys));
    expect(listed.every((e) => e.size === sizeOf(e.key))).toBe(true);
    expect((await store.list('list/dt=2026-01-07/')).map((e) => e.key)).toEqual(sortedKeys(keys.filter((k) => k.startsWith('list/dt=2026-01-07/'))));
    expect(await store.list('nothing-here/')).toEqual([]);
  });

  it('keeps keys with spaces, +, %, URL delimiters and non-ASCII characters through put, get, list, swap and delete', async () => {
    const store = await freshStore();
    for (const key of ODD_KEYS) expect(await store.putIfAbsent(key, bytes(`body of ${key}`))).toBe('created');
    for (const key of ODD_KEYS) expect(await text(store, key)).toBe(`body of ${key}`);
    expect(await store.list('odd keys/')).toEqual(sortedKeys(ODD_KEYS).map((key) => ({ key, size: bytes(`body of ${key}`).byteLength, lastModified: expect.any(Number) })));

    const swapped = ODD_KEYS[0]!;
    expect(await store.compareAndSwap(swapped, bytes('swapped'), (await store.get(swapped))!.etag)).toMatchObject({ ok: true });
    expect(await text(store, swapped)).toBe('swapped');

    for (const key of ODD_KEYS) await store.delete(key);
    expect(await store.list('odd keys/')).toEqual([]);
    for (const key of ODD_KEYS) expect(await store.get(key)).toBeUndefined();
  });

  it('lists when each object was last written, created or swapped, to the second', async () => {
    const store = await freshStore();
    const before = Date.now();
    await store.putIfAbsent('t/created.json', bytes('{}'));
    const created = await store.compareAndSwap('t/swapped.json', bytes('1'), null);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const swapTime = Date.now();
    await store.compareAndSwap('t/swapped.json', bytes('2'), created.ok ? created.etag : '');
    const after = Date.now();
    const [first, second] = await store.list('t/');
    // S3 keeps whole seconds.
    expect(first!.lastModified).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(first!.lastModified).toBeLessThan(swapTime);
    expect(second!.lastModified).toBeGreaterThanOrEqual(Math.floor(swapTime / 1000) * 1000);
    expect(second!.lastModified).toBeLessThanOrEqual(after);
  });

  it('deletes an object, then lets the key be created again; deleting a missing key is no error', async () => {
    const store = await freshStore();
    await store.putIfAbsent('q/x.ndjson', bytes('x'));
    await store.delete('q/x.ndjson');
    expect(await store.get('q/x.ndjson')).toBeUndefined();
    expect(await store.list('q/')).toEqual([]);
    await expect(store.delete('q/x.ndjson')).resolves.toBeUndefined();
    expect(await store.putIfAbsent('q/x.ndjson', bytes('again'))).toBe('created');
    expect(await text(store, 'q/x.ndjson')).toBe('again');
  });
}
