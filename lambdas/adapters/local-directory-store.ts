import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ObjectEntry, ObjectStore, StoredObject, SwapResult } from '../ports/object-store.ts';

const TMP_DIR = '.tmp';
// A compare-and-swap object is a directory of immutable, numbered versions; the newest is current.
const VERSIONS_SUFFIX = '.versions';
const VERSION_DIGITS = 12;

export class LocalStoreError extends Error {
  override name = 'LocalStoreError';
}

function etagOf(version: number, body: Uint8Array): string {
  return `${version}-${createHash('md5').update(body).digest('hex')}`;
}

function versionOf(etag: string): number {
  return Number(etag.slice(0, etag.indexOf('-')));
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException).code === code;
}

/**
 * The object store on a local directory, with S3's guarantees and no locks. Every write is a hard
 * link of a fully written, fsynced temporary file, which is atomic (never partial) and fails if the
 * name exists. Put-if-absent links the object's own name. Compare-and-swap links the next version
 * number in the object's `.versions` directory: of all writers that read the same version, exactly
 * one creates the next, and a crash at any point leaves either the old or the new version.
 * A plain file counts as version 0, so a create-once object can later be swapped too.
 */
export class LocalDirectoryStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  private pathOf(key: string): string {
    if (key.startsWith('/') || key.endsWith(VERSIONS_SUFFIX) || key.split('/').some((part) => part === '..' || part === '' || part === TMP_DIR)) {
      throw new LocalStoreError(`invalid object key ${JSON.stringify(key)}: use relative /-separated names without '..', empty parts or a ${VERSIONS_SUFFIX} suffix`);
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
    if (await this.newestVersion(key)) return 'exists';
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
    const current = await this.get(key);
    if ((current?.etag ?? null) !== expectedEtag) return { ok: false };
    const dir = this.pathOf(key) + VERSIONS_SUFFIX;
    const version = current ? versionOf(current.etag) : 0;
    const next = version + 1;
    await mkdir(dir, { recursive: true });
    const temp = await this.writeTemp(body);
    try {
      await link(temp, join(dir, versionName(next)));
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return { ok: false };
      throw error;
    } finally {
      await unlink(temp);
    }
    await syncDirectory(dir);
    // Keep the version before this one for readers that listed the directory a moment ago.
    if (version > 1) await rm(join(dir, versionName(version - 1)), { force: true });
    return { ok: true, etag: etagOf(next, body) };
  }

  // A swap that lands meanwhile removes this version: the object was modified just now.
  private async versionTime(key: string, version: number): Promise<number> {
    try {
      return (await stat(join(this.pathOf(key) + VERSIONS_SUFFIX, versionName(version)))).mtimeMs;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return Date.now();
      throw error;
    }
  }

  private async newestVersion(key: string): Promise<{ version: number; body: Uint8Array } | undefined> {
    const dir = this.pathOf(key) + VERSIONS_SUFFIX;
    for (;;) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return undefined;
        throw error;
      }
      const version = newestOf(names);
      if (version === 0) return undefined;
      try {
        return { version, body: new Uint8Array(await readFile(join(dir, versionName(version)))) };
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error; // pruned by a newer swap meanwhile: look again
      }
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const versioned = await this.newestVersion(key);
    if (versioned) return { body: versioned.body, etag: etagOf(versioned.version, versioned.body) };
    try {
      const body = new Uint8Array(await readFile(this.pathOf(key)));
      return { body, etag: etagOf(0, body) };
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectEntry[]> {
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    let files;
    try {
      files = await readdir(base ? this.pathOf(base) : this.root, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    // A swapped object may also have its plain version 0 beside its versions: the versions win.
    const entries = new Map<string, ObjectEntry>();
    for (const file of files) {
      const path = relative(this.root, join(file.parentPath, file.name)).split(sep).join('/');
      if (path.startsWith(`${TMP_DIR}/`)) continue;
      if (file.isDirectory() && path.endsWith(VERSIONS_SUFFIX)) {
        const key = path.slice(0, -VERSIONS_SUFFIX.length);
        const newest = key.startsWith(prefix) ? await this.newestVersion(key) : undefined;
        if (newest) entries.set(key, { key, size: newest.body.byteLength, lastModified: await this.versionTime(key, newest.version) });
      } else if (file.isFile() && !path.includes(`${VERSIONS_SUFFIX}/`) && path.startsWith(prefix) && !entries.has(path)) {
        const { size, mtimeMs } = await stat(join(this.root, path));
        entries.set(path, { key: path, size, lastModified: mtimeMs });
      }
    }
    return [...entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * The file that holds the current body of each object under `prefix` (its newest version, or
   * the plain file), for readers that open files rather than objects: DuckDB's views of the lake.
   */
  async currentFiles(prefix: string): Promise<string[]> {
    const files: string[] = [];
    for (const { key } of await this.list(prefix)) {
      const dir = this.pathOf(key) + VERSIONS_SUFFIX;
      const names = await readdir(dir).catch((error: unknown) => (isErrno(error, 'ENOENT') ? [] : Promise.reject(error)));
      const version = newestOf(names);
      files.push(version === 0 ? this.pathOf(key) : join(dir, versionName(version)));
    }
    return files;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
    await rm(this.pathOf(key) + VERSIONS_SUFFIX, { recursive: true, force: true });
  }
}

/** The newest version among a `.versions` directory's names; 0 when it holds none. */
function newestOf(names: readonly string[]): number {
  return Math.max(0, ...names.filter((name) => /^\d+$/.test(name)).map(Number));
}

function versionName(version: number): string {
  return String(version).padStart(VERSION_DIGITS, '0');
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
