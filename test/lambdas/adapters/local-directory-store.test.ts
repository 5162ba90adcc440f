import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectoryStore, LocalStoreError } from '../../../lambdas/adapters/local-directory-store.ts';
import { objectStoreContract } from '../../helpers/object-store-contract.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

let root: string;
let store: LocalDirectoryStore;

beforeEach(() => {
  root = fs.mkdtempSync(join(os.tmpdir(), 'streamlake-'));
  store = new LocalDirectoryStore(root);
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

async function text(key: string): Promise<string | undefined> {
  const object = await store.get(key);
  return object === undefined ? undefined : decoder.decode(object.body);
}

/** Files left in the store's temporary directory (it may not exist at all). */
function tempFiles(): string[] {
  const tmp = join(root, '.tmp');
  return fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
}

async function etag(key: string): Promise<string> {
  return (await store.get(key))!.etag;
}

describe('LocalDirectoryStore', () => {
  describe('putIfAbsent', () => {
    it('creates the object, then answers exists without changing it', async () => {
      expect(await store.putIfAbsent('lake/a/file.parquet', bytes('first'))).toBe('created');
      expect(await store.putIfAbsent('lake/a/file.parquet', bytes('second'))).toBe('exists');
      expect((await store.get('lake/a/file.parquet'))?.body).toEqual(bytes('first'));
      expect(fs.readFileSync(join(root, 'lake', 'a', 'file.parquet'), 'utf8')).toBe('first');
    });

    it('lets exactly one of 20 concurrent writers to one key win, and keeps the winner body', async () => {
      const bodies = Array.from({ length: 20 }, (_, i) => `body-${i}-${'x'.repeat(i * 1_000)}`);
      const results = await Promise.all(bodies.map((body) => store.putIfAbsent('race/key', bytes(body))));

      expect(results.filter((r) => r === 'created')).toHaveLength(1);
      expect(results.filter((r) => r === 'exists')).toHaveLength(19);
      expect(await text('race/key')).toBe(bodies[results.indexOf('created')]);
      expect(tempFiles()).toEqual([]);
    });

    it('leaves no temporary files behind', async () => {
      for (let i = 0; i < 5; i++) await store.putIfAbsent(`objects/${i}`, bytes(`v${i}`));
      await store.putIfAbsent('objects/0', bytes('again'));
      const swapped = await store.compareAndSwap('objects/1', bytes('v1b'), await etag('objects/1'));
      expect(swapped.ok).toBe(true);
      expect(tempFiles()).toEqual([]);
      expect((await store.list('')).map((e) => e.key)).toEqual(['objects/0', 'objects/1', 'objects/2', 'objects/3', 'objects/4']);
    });
  });

  describe('compareAndSwap', () => {
    it('with a null etag creates only when the key is absent', async () => {
      const created = await store.compareAndSwap('cp/state.json', bytes('v1'), null);
      expect(created).toEqual({ ok: true, etag: await etag('cp/state.json') });
      expect(await store.compareAndSwap('cp/state.json', bytes('v2'), null)).toEqual({ ok: false });
      expect(await text('cp/state.json')).toBe('v1');
    });

    it('replaces the object given its current etag and returns the new etag', async () => {
      await store.putIfAbsent('cp/state.json', bytes('v1'));
      const before = await etag('cp/state.json');

      const result = await store.compareAndSwap('cp/state.json', bytes('v2'), before);
      expect(result.ok).toBe(true);
      expect(await store.get('cp/state.json')).toEqual({ body: bytes('v2'), etag: (result as { etag: string }).etag });
      expect((result as { etag: string }).etag).not.toBe(before);
    });

    it('refuses a stale etag and leaves the content', async () => {
      await store.putIfAbsent('cp/state.json', bytes('v1'));
      const stale = await etag('cp/state.json');
      expect((await store.compareAndSwap('cp/state.json', bytes('v2'), stale)).ok).toBe(true);

      expect(await store.compareAndSwap('cp/state.json', bytes('v3'), stale)).toEqual({ ok: false });
      expect(await text('cp/state.json')).toBe('v2');
    });

    it('refuses an etag for an object that does not exist', async () => {
      expect(await store.compareAndSwap('state.json', bytes('v1'), '1-0123')).toEqual({ ok: false });
      expect(await store.get('state.json')).toBeUndefined();
    });

    it('refuses an etag for an object whose directory does not exist yet', async () => {
      expect(await store.compareAndSwap('checkpoints/new/state.json', bytes('v1'), '1-0123')).toEqual({ ok: false });
      expect(await store.get('checkpoints/new/state.json')).toBeUndefined();
    });

    it('lets exactly one of 20 concurrent swaps from the same etag win', async () => {
      await store.compareAndSwap('cp/state.json', bytes('v0'), null);
      const from = await etag('cp/state.json');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.compareAndSwap('cp/state.json', bytes(`v${i + 1}`), from)));

      const winners = results.flatMap((r, i) => (r.ok ? [{ i, etag: r.etag }] : []));
      expect(winners).toHaveLength(1);
      expect(await text('cp/state.json')).toBe(`v${winners[0]!.i + 1}`);
      expect(winners[0]!.etag).toBe(await etag('cp/state.json'));
      expect(tempFiles()).toEqual([]);
    });

    it('lets exactly one swap win in each of many rounds of 20 concurrent swaps', async () => {
      await store.compareAndSwap('cp/rounds.json', bytes('v0'), null);
      for (let round = 1; round <= 20; round++) {
        const from = await etag('cp/rounds.json');
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.compareAndSwap('cp/rounds.json', bytes(`r${round}-${i}`), from)));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
      }
      // Old versions are pruned: the newest and the one before it remain.
      expect(fs.readdirSync(join(root, 'cp', 'rounds.json.versions'))).toHaveLength(2);
    });

    it('swaps a create-once object too, treating it as the first version', async () => {
      await store.putIfAbsent('cp/plain.json', bytes('v0'));
      const swapped = await store.compareAndSwap('cp/plain.json', bytes('v1'), await etag('cp/plain.json'));
      expect(swapped.ok).toBe(true);
      expect(await text('cp/plain.json')).toBe('v1');
      expect(await store.compareAndSwap('cp/plain.json', bytes('v2'), null)).toEqual({ ok: false });
    });
  });

  describe('get, list and delete', () => {
    it('returns undefined for a missing key', async () => {
      expect(await store.get('nothing/here')).toBeUndefined();
      expect(await new LocalDirectoryStore(join(root, 'no-such-root')).get('x')).toBeUndefined();
    });

    it('lists the objects under a prefix, sorted, with their sizes', async () => {
      await store.putIfAbsent('lake/dt=2025-01-02/hour=1/b.parquet', bytes('bb'));
      await store.putIfAbsent('lake/dt=2025-01-01/hour=3/a.parquet', bytes('aaaa'));
      await store.putIfAbsent('lake/dt=2025-01-01/hour=10/c.parquet', bytes('c'));
      await store.putIfAbsent('lakehouse/other.txt', bytes('other'));
      await store.putIfAbsent('quarantine/q.ndjson', bytes('q'));
      await store.putIfAbsent('top.json', bytes('{}'));

      expect(await store.list('lake/')).toEqual([
        { key: 'lake/dt=2025-01-01/hour=10/c.parquet', size: 1, lastModified: expect.any(Number) },
        { key: 'lake/dt=2025-01-01/hour=3/a.parquet', size: 4, lastModified: expect.any(Number) },
        { key: 'lake/dt=2025-01-02/hour=1/b.parquet', size: 2, lastModified: expect.any(Number) },
      ]);
      expect((await store.list('lake/dt=2025-01-01/')).map((e) => e.key)).toEqual([
        'lake/dt=2025-01-01/hour=10/c.parquet',
        'lake/dt=2025-01-01/hour=3/a.parquet',
      ]);
      // A prefix is a string prefix, as in S3, not a directory.
      expect((await store.list('lake')).map((e) => e.key)).toEqual([
        'lake/dt=2025-01-01/hour=10/c.parquet',
        'lake/dt=2025-01-01/hour=3/a.parquet',
        'lake/dt=2025-01-02/hour=1/b.parquet',
        'lakehouse/other.txt',
      ]);
      expect((await store.list('lake/dt=2025-01-01/hour=1')).map((e) => e.key)).toEqual(['lake/dt=2025-01-01/hour=10/c.parquet']);
      expect(await store.list('missing/')).toEqual([]);
    });

    it('never lists the temporary directory, and lists a swapped object once with its newest size', async () => {
      await store.compareAndSwap('cp/state.json', bytes('v0'), null);
      await store.compareAndSwap('cp/state.json', bytes('v1-longer'), await etag('cp/state.json'));
      await store.compareAndSwap('cp/state.json', bytes('v2'), await etag('cp/state.json'));
      await store.putIfAbsent('a.txt', bytes('a'));
      fs.mkdirSync(join(root, '.tmp'), { recursive: true });
      fs.writeFileSync(join(root, '.tmp', 'half-written'), 'partial'); // left by a killed writer

      expect(await store.list('')).toEqual([
        { key: 'a.txt', size: 1, lastModified: expect.any(Number) },
        { key: 'cp/state.json', size: 2, lastModified: expect.any(Number) },
      ]);
      expect(await store.list('cp/')).toEqual([{ key: 'cp/state.json', size: 2, lastModified: expect.any(Number) }]);
    });

    it('deletes an object, and deleting a missing one is not an error', async () => {
      await store.putIfAbsent('a/b.txt', bytes('b'));
      await store.delete('a/b.txt');
      expect(await store.get('a/b.txt')).toBeUndefined();
      expect(await store.list('')).toEqual([]);
      await expect(store.delete('a/b.txt')).resolves.toBeUndefined();
      // Once deleted, the key can be created again.
      expect(await store.putIfAbsent('a/b.txt', bytes('again'))).toBe('created');
    });
  });

  describe('keys', () => {
    it.each(['../x', '/abs', 'a//b', 'a/../../etc/passwd', '', 'a/', '.tmp/x', 'cp/state.json.versions'])('rejects the invalid key %j with LocalStoreError', async (key) => {
      await expect(store.putIfAbsent(key, bytes('x'))).rejects.toBeInstanceOf(LocalStoreError);
      await expect(store.compareAndSwap(key, bytes('x'), null)).rejects.toBeInstanceOf(LocalStoreError);
      await expect(store.compareAndSwap(key, bytes('x'), '1-0123')).rejects.toBeInstanceOf(LocalStoreError);
      await expect(store.get(key)).rejects.toBeInstanceOf(LocalStoreError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(LocalStoreError);
      // Nothing was written anywhere, in or outside the root.
      expect(fs.readdirSync(root)).toEqual([]);
      expect(fs.existsSync(join(root, '..', 'x'))).toBe(false);
    });
  });
});

describe('object store port on a local directory', () => {
  objectStoreContract(async () => {
    const dir = fs.mkdtempSync(join(os.tmpdir(), 'streamlake-contract-'));
    return { store: new LocalDirectoryStore(dir), close: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  });
});
