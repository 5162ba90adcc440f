/** An object and the version tag that compare-and-swap checks against. */
export interface StoredObject {
  readonly body: Uint8Array;
  readonly etag: string;
}

/** An object key with its size and when it was last written, as listed. */
export interface ObjectEntry {
  readonly key: string;
  readonly size: number;
  /** Epoch milliseconds. */
  readonly lastModified: number;
}

/** Outcome of a compare-and-swap: the new tag, or a conflict with a concurrent writer. */
export type SwapResult = { readonly ok: true; readonly etag: string } | { readonly ok: false };

/**
 * An object store with the two conditional writes exactly-once needs (S3 `If-None-Match: *` and
 * `If-Match: <etag>`). Keys are `/`-separated paths relative to the store's root.
 */
export interface ObjectStore {
  /** Creates the object unless the key exists; a partially written object is never visible. */
  putIfAbsent(key: string, body: Uint8Array): Promise<'created' | 'exists'>;
  /** Replaces the object only if its current tag is `expectedEtag` (`null`: only if it does not exist). */
  compareAndSwap(key: string, body: Uint8Array, expectedEtag: string | null): Promise<SwapResult>;
  get(key: string): Promise<StoredObject | undefined>;
  /** Every object under the prefix, sorted by key. */
  list(prefix: string): Promise<ObjectEntry[]>;
  delete(key: string): Promise<void>;
}
