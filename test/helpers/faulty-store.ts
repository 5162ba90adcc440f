import type { ObjectEntry, ObjectStore, StoredObject, SwapResult } from '../../lambdas/ports/object-store.ts';

export type StoreOp = 'putIfAbsent' | 'compareAndSwap' | 'get' | 'list' | 'delete';

/** Where an injected crash strikes: before the call reaches the store, or after it succeeded. */
export type CrashPoint = 'before' | 'after';

/** The crash a test injected: stands for the process dying at that point. */
export class InjectedCrash extends Error {
  override name = 'InjectedCrash';
}

/** Decides, for the n-th call (from 1) of an operation, whether to crash. */
export type FaultPlan = (op: StoreOp, key: string, nth: number) => CrashPoint | undefined;

/** Wraps a store and crashes where the plan says; optionally waits on a gate before each call. */
export class FaultyStore implements ObjectStore {
  private readonly counts = new Map<StoreOp, number>();
  private readonly inner: ObjectStore;
  private readonly plan: FaultPlan;
  private readonly gate: (op: StoreOp, key: string) => Promise<void>;

  constructor(inner: ObjectStore, plan: FaultPlan = () => undefined, gate: (op: StoreOp, key: string) => Promise<void> = async () => {}) {
    this.inner = inner;
    this.plan = plan;
    this.gate = gate;
  }

  private async call<T>(op: StoreOp, key: string, action: () => Promise<T>): Promise<T> {
    const nth = (this.counts.get(op) ?? 0) + 1;
    this.counts.set(op, nth);
    await this.gate(op, key);
    const point = this.plan(op, key, nth);
    if (point === 'before') throw new InjectedCrash(`crash before ${op} #${nth} of ${key}`);
    const result = await action();
    if (point === 'after') throw new InjectedCrash(`crash after ${op} #${nth} of ${key}`);
    return result;
  }

  putIfAbsent(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
    return this.call('putIfAbsent', key, () => this.inner.putIfAbsent(key, body));
  }

  compareAndSwap(key: string, body: Uint8Array, expectedEtag: string | null): Promise<SwapResult> {
    return this.call('compareAndSwap', key, () => this.inner.compareAndSwap(key, body, expectedEtag));
  }

  get(key: string): Promise<StoredObject | undefined> {
    return this.call('get', key, () => this.inner.get(key));
  }

  list(prefix: string): Promise<ObjectEntry[]> {
    return this.call('list', prefix, () => this.inner.list(prefix));
  }

  delete(key: string): Promise<void> {
    return this.call('delete', key, () => this.inner.delete(key));
  }
}
