import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectEntry, ObjectStore, StoredObject, SwapResult } from '../ports/object-store.ts';

/** Content types of the files the pipeline writes, by extension. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.parquet': 'application/vnd.apache.parquet',
  '.ndjson': 'application/x-ndjson',
  '.json': 'application/json',
};
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Tries of a create-once write while S3 answers 409 ConditionalRequestConflict, with doubling pauses from 50 ms. */
const CONFLICT_ATTEMPTS = 4;
const CONFLICT_BACKOFF_MS = 50;

/** An S3 request failed in a way the store cannot turn into an answer; the message says what to do. */
export class S3StoreError extends Error {
  override name = 'S3StoreError';
}

/** The content type S3 stores for a key, from its extension. */
export function contentTypeOf(key: string): string {
  const extension = /\.[^./]+$/.exec(key)?.[0] ?? '';
  return CONTENT_TYPES[extension] ?? DEFAULT_CONTENT_TYPE;
}

function httpStatusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

// Any 412 or 409 to a conditional PutObject is about its condition, whatever code S3 names it with.
const isPreconditionFailed = (error: unknown) => httpStatusOf(error) === 412;
const isConditionalConflict = (error: unknown) => httpStatusOf(error) === 409;
// Not any 404: a missing bucket (NoSuchBucket) must fail loudly, not read as a missing object.
const isNoSuchKey = (error: unknown) => error instanceof S3ServiceException && error.name === 'NoSuchKey';
const isNoSuchBucket = (error: unknown) => error instanceof S3ServiceException && error.name === 'NoSuchBucket';

/**
 * True when the SDK sent the request more than once before this error: its retry strategy resends
 * a request whose response did not arrive (a reset connection, a timeout, a 5xx), and an earlier
 * attempt may have been applied. The SDK records the attempts on the error it finally throws.
 */
function wasRetried(error: unknown): boolean {
  return ((error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1) > 1;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * The object store on an S3 bucket, with S3's conditional writes: put-if-absent is a PutObject with
 * `If-None-Match: *` and compare-and-swap a PutObject with `If-Match: <etag>`. A PutObject is atomic,
 * so an object is never visible partially written. Keys are object keys in the bucket.
 *
 * S3 answers a failed condition with 412 PreconditionFailed, and a write that raced with another
 * conditional write on the same key with 409 ConditionalRequestConflict.
 */
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  readonly bucket: string;

  constructor(client: S3Client, bucket: string) {
    this.client = client;
    this.bucket = bucket;
  }

  private putInput(key: string, body: Uint8Array, condition: Pick<PutObjectCommandInput, 'IfMatch' | 'IfNoneMatch'>): PutObjectCommandInput {
    return { Bucket: this.bucket, Key: key, Body: body, ContentType: contentTypeOf(key), ...condition };
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
    const input = this.putInput(key, body, { IfNoneMatch: '*' });
    // Set once any send of this write was retried by the SDK: from then on a 412 may be our own write.
    let mayHaveLanded = false;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.checked(this.client.send(new PutObjectCommand(input)), key);
        return 'created';
      } catch (error) {
        mayHaveLanded ||= wasRetried(error);
        if (isPreconditionFailed(error)) return mayHaveLanded && (await this.holdsOwnWrite(key, body)) ? 'created' : 'exists';
        // S3 says to retry a 409: the next attempt either creates the key or finds it with a 412.
        if (!isConditionalConflict(error)) throw error;
        if (attempt === CONFLICT_ATTEMPTS) {
          throw new S3StoreError(`s3://${this.bucket}/${key}: ${CONFLICT_ATTEMPTS} create-once writes in a row conflicted with concurrent writes (409 ConditionalRequestConflict); too many writers race for this key, run again once they are done`);
        }
        await sleep(CONFLICT_BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
  }

  async compareAndSwap(key: string, body: Uint8Array, expectedEtag: string | null): Promise<SwapResult> {
    const condition = expectedEtag === null ? { IfNoneMatch: '*' } : { IfMatch: expectedEtag };
    try {
      const response = await this.checked(this.client.send(new PutObjectCommand(this.putInput(key, body, condition))), key);
      return { ok: true, etag: requireEtag(response.ETag, this.bucket, key) };
    } catch (error) {
      // A 409 means a concurrent writer got there: like a 412, the caller reloads and decides again.
      // If-Match on a key deleted since it was read finds no object at all: that is a lost race too.
      if (isPreconditionFailed(error) || isConditionalConflict(error) || (expectedEtag !== null && isNoSuchKey(error))) {
        const own = wasRetried(error) ? await this.holdsOwnWrite(key, body) : undefined;
        return own ? { ok: true, etag: own.etag } : { ok: false };
      }
      throw error;
    }
  }

  /**
   * The object at `key`, if it holds exactly `body`: after a retried conditional write failed its
   * condition, this tells our own first attempt (applied, its response lost) from another writer's.
   * The bytes are compared, not the ETag with an MD5 of `body`: with SSE-KMS, or for a multipart
   * object, S3's ETag is not the MD5 of the body.
   *
   * Identical bytes from another writer read as ours too, and that is safe for the pipeline. The
   * key then holds exactly the state this write asked for, and the ETag returned is the current
   * one, so the caller's next compare-and-swap from it goes on as if its own write had landed.
   * Where two writers can produce the same bytes, both being told they won does no harm:
   * - a Parquet or quarantine file is named and filled from its run's ranges, so any two writers
   *   of one key write the same file (and the compactor does not look at the answer);
   * - a commit is `commitRun(state, run, lastRun)`: two compactors finishing one claim commit the
   *   same offsets and sequence, and differ only in the figures of `lastRun` (its commit time), so
   *   whichever is told it won, the checkpoint holds that run, as when a loser finishes the winner's run;
   * - a claim carries its start time, so two claims match only when made in the same millisecond
   *   from the same checkpoint: then both compactors run the same ranges into the same file names
   *   and race to the same commit, which stays exactly once.
   * If our write landed and was replaced before this read, the answer is a conflict: the caller
   * reloads and decides again, as after any lost race.
   */
  private async holdsOwnWrite(key: string, body: Uint8Array): Promise<StoredObject | undefined> {
    const current = await this.get(key);
    return current && sameBytes(current.body, body) ? current : undefined;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const response = await this.checked(this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })), key);
      const body = response.Body ? await response.Body.transformToByteArray() : new Uint8Array();
      return { body, etag: requireEtag(response.ETag, this.bucket, key) };
    } catch (error) {
      if (isNoSuchKey(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectEntry[]> {
    const entries: ObjectEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.checked(this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })), prefix);
      for (const object of page.Contents ?? []) entries.push({ key: object.Key!, size: object.Size ?? 0, lastModified: object.LastModified?.getTime() ?? Number.POSITIVE_INFINITY });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.checked(this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })), key);
  }

  /** `request`'s outcome; a missing bucket becomes an S3StoreError that says so, whatever the operation. */
  private async checked<T>(request: Promise<T>, key: string): Promise<T> {
    try {
      return await request;
    } catch (error) {
      if (isNoSuchBucket(error)) {
        throw new S3StoreError(`s3://${this.bucket}/${key}: the bucket ${this.bucket} does not exist (NoSuchBucket); check the bucket name the store was given and the client's region and endpoint, or create the bucket`, { cause: error });
      }
      throw error;
    }
  }
}

function requireEtag(etag: string | undefined, bucket: string, key: string): string {
  if (etag === undefined) throw new S3StoreError(`s3://${bucket}/${key}: S3 returned no ETag, which compare-and-swap needs; use an S3 general purpose bucket (or an S3-compatible store that returns ETags)`);
  return etag;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
