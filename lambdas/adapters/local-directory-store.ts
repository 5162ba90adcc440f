import { createHash, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectEntry, ObjectStore, StoredObject, SwapResult } from '../ports/object-store.ts';

const TMP_DIR = '.tmp';
const LOCK_SUFFIX = '.lock';
const LOCK_WAIT_MS = 10_000;
// A lock is held for one read-compare-rename; one this old was left by a killed process.
const STALE_LOCK_MS = 30_000;

export class LocalStoreError extends Error {
  override name = 'LocalStoreError';
}

function etagOf(body: Uint8Array): string {
  return createHash('md5').update(body).digest('hex');
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException).code === code;
}

/**
 * The object store on a local directory, with S3's guarantees: put-if-absent is a hard link of a
 * fully written, fsynced temporary file (atomic, never partial); compare-and-swap renames over the
 * object under a create-exclusive lock file.
 */
export class LocalDirectoryStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  private pathOf(key: string): string {
    if (key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '' || part === TMP_DIR)) {
      throw new LocalStoreError(`invalid object key ${JSON.stringify(key)}: use relative /-separated names without '..' or empty parts`);
    }
    return join(this.root, ...key.split('/'));
  }

  private async writeTemp(body: Uint8Array): Promise<string> {
    const dir = join(this.root, TMP_DIR);
    await mkdir(dir, { recursive: true });
    const path = join(dir, randomUUID());
    const handle = await open(path, 'wx');
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return path;
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = await this.writeTemp(body);
    try {
      await link(temp, path);
      await syncDirectory(dirname(path));
      return 'created';
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return 'exists';
      throw error;
    } finally {
      await unlink(temp);
    }
  }

  async compareAndSwap(key: string, body: Uint8Array, expectedEtag: string | null): Promise<SwapResult> {
    if (expectedEtag === null) {
      return (await this.putIfAbsent(key, body)) === 'created' ? { ok: true, etag: etagOf(body) } : { ok: false };
    }
    const path = this.pathOf(key);
    return this.withLock(path, async () => {
      const current = await this.get(key);
      if (current?.etag !== expectedEtag) return { ok: false };
      const temp = await this.writeTemp(body);
      await rename(temp, path);
      await syncDirectory(dirname(path));
      return { ok: true, etag: etagOf(body) };
    });
  }

  private async withLock<T>(path: string, action: () => Promise<T>): Promise<T> {
    const lock = path + LOCK_SUFFIX;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await (await open(lock, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY)).close();
        break;
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
        const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
        if (age > STALE_LOCK_MS) await rm(lock, { force: true });
        else if (Date.now() > deadline) throw new LocalStoreError(`timed out waiting for lock ${lock}; if no streamlake process is running, delete it`);
        else await sleep(2);
      }
    }
    try {
      return await action();
    } finally {
      await rm(lock, { force: true });
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const body = new Uint8Array(await readFile(this.pathOf(key)));
      return { body, etag: etagOf(body) };
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectEntry[]> {
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = base ? this.pathOf(base) : this.root;
    const entries: ObjectEntry[] = [];
    let names: string[];
    try {
      names = (await readdir(start, { recursive: true, withFileTypes: true }))
        .filter((entry) => entry.isFile() && !entry.name.endsWith(LOCK_SUFFIX))
        .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/'));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    for (const key of names) {
      if (!key.startsWith(prefix) || key.startsWith(`${TMP_DIR}/`)) continue;
      entries.push({ key, size: (await stat(join(this.root, key))).size });
    }
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
