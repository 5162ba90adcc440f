import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Another writer holds the lock; the message names it and says what to do. */
export class WriterLockError extends Error {
  override name = 'WriterLockError';
}

const RELEASED = 'released';

/**
 * The embedded log's writer lock: one producing process per topic directory.
 *
 * The lock is a directory of numbered generations, each a file naming the process that took
 * it or saying it was released; the newest generation is the lock's state. A process takes the lock
 * by linking generation n + 1, from a fully written temporary file, when generation n is released or
 * names a dead process. A link fails if its name exists, so of all processes that found the same
 * stale generation exactly one takes the next (as the directory store's compare-and-swap does), a
 * reader never sees a half-written generation, and a takeover never replaces a live owner's lock.
 */

// Locks this process holds (by generation) or is taking (0): a second writer in the same process is refused too.
const heldLocks = new Map<string, number>();

/** Takes the writer lock in `lockDir` for this process, or throws a `WriterLockError` naming the live owner. */
export async function acquireWriterLock(lockDir: string): Promise<void> {
  if (heldLocks.has(lockDir)) throw new WriterLockError(`the topic in ${dirname(lockDir)} already has a writer in this process; share it`);
  heldLocks.set(lockDir, 0);
  try {
    await mkdir(lockDir, { recursive: true });
    for (;;) {
      const newest = await newestGeneration(lockDir);
      // The owner may be this process's pid only as a dead process's pid reused: this process holds no lock here.
      if (newest.owner !== process.pid && isAlive(newest.owner)) {
        throw new WriterLockError(`another streamlake process (pid ${newest.owner}) is producing to ${dirname(lockDir)}; wait for it to finish`);
      }
      const taken = newest.generation + 1;
      if (!(await linkGeneration(lockDir, taken, String(process.pid)))) continue; // another process took it first
      // A process that listed before a prune can link into the gap below the newest generation: then the newest counts, not this one.
      if ((await newestGeneration(lockDir)).generation !== taken) {
        await rm(join(lockDir, String(taken)), { force: true });
        continue;
      }
      heldLocks.set(lockDir, taken);
      await pruneGenerations(lockDir, taken);
      return;
    }
  } catch (error) {
    heldLocks.delete(lockDir);
    throw error;
  }
}

/** Releases the lock this process holds in `lockDir`. */
export async function releaseWriterLock(lockDir: string): Promise<void> {
  const generation = heldLocks.get(lockDir)!;
  heldLocks.delete(lockDir);
  if (await linkGeneration(lockDir, generation + 1, RELEASED)) await pruneGenerations(lockDir, generation + 1);
}

async function newestGeneration(lockDir: string): Promise<{ generation: number; owner: number }> {
  for (;;) {
    const generation = Math.max(0, ...(await readdir(lockDir)).filter((name) => /^\d+$/.test(name)).map(Number));
    if (generation === 0) return { generation, owner: 0 };
    try {
      const content = await readFile(join(lockDir, String(generation)), 'utf8');
      return { generation, owner: content === RELEASED ? 0 : Number(content) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // pruned after a newer takeover: look again
    }
  }
}

async function linkGeneration(lockDir: string, generation: number, content: string): Promise<boolean> {
  const temp = join(lockDir, `${process.pid}.${randomUUID()}.tmp`);
  await writeFile(temp, content, { flag: 'wx' });
  try {
    await link(temp, join(lockDir, String(generation)));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

// Removes the generations before `newest` and the temporary files of processes that died before linking theirs.
async function pruneGenerations(lockDir: string, newest: number): Promise<void> {
  for (const name of await readdir(lockDir)) {
    const stale = /^\d+$/.test(name) ? Number(name) < newest : !isAlive(Number(name.split('.')[0]));
    if (stale) await rm(join(lockDir, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  // Signal 0 to pid 0 or a negative pid would probe a process group, not a process.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
