import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type DeleteObjectCommandInput,
  type DeleteObjectCommandOutput,
  type GetObjectCommandInput,
  type GetObjectCommandOutput,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  type PutObjectCommandInput,
  type PutObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';

/**
 * An S3 error as the SDK builds it from S3's XML error reply. `attempts` is how many times the
 * SDK sent the request before this reply (more than 1 when its retry strategy resent it, e.g.
 * after a lost response), as the SDK records it on the error.
 */
export function s3Error(code: string, httpStatusCode: number, message = code, attempts = 1): S3ServiceException {
  return new S3ServiceException({ name: code, message, $fault: 'client', $metadata: { httpStatusCode, attempts } });
}

export const preconditionFailed = (attempts = 1) => s3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', attempts);
export const conditionalConflict = (attempts = 1) => s3Error('ConditionalRequestConflict', 409, 'A conflicting operation occurred', attempts);
export const noSuchKey = (attempts = 1) => new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404, attempts } });

/** A GetObject body as the SDK returns it: a stream with the SDK's `transformTo…` helpers. */
export function objectBody(bytes: Uint8Array): GetObjectCommandOutput['Body'] {
  return sdkStreamMixin(Readable.from([Buffer.from(bytes)]));
}

interface FakeObject {
  readonly body: Uint8Array;
  readonly etag: string;
  readonly contentType: string | undefined;
  readonly lastModified: Date;
}

/**
 * One S3 bucket in memory, behind an aws-sdk-client-mock stub of S3Client: PutObject honours
 * `If-None-Match: *` and `If-Match` with S3's 412, ETags are quoted MD5s of the body as S3 gives
 * for single-part uploads, and ListObjectsV2 pages `pageSize` keys at a time. Every call yields to
 * the event loop first, so concurrent callers interleave as they would over the network, and then
 * checks and writes in one step, as S3 does.
 */
export class FakeS3 {
  readonly bucket: string;
  readonly client = new S3Client({ region: 'us-east-1' });
  readonly mock = mockClient(this.client);
  readonly objects = new Map<string, FakeObject>();
  private readonly pageSize: number;

  constructor(bucket: string, pageSize = 1000) {
    this.bucket = bucket;
    this.pageSize = pageSize;
    this.mock.on(PutObjectCommand).callsFake((input: PutObjectCommandInput) => this.put(input));
    this.mock.on(GetObjectCommand).callsFake((input: GetObjectCommandInput) => this.get(input));
    this.mock.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => this.list(input));
    this.mock.on(DeleteObjectCommand).callsFake((input: DeleteObjectCommandInput) => this.delete(input));
  }

  /** Writes every object into a directory under its key, e.g. to query the bucket with DuckDB. */
  copyTo(dir: string): void {
    for (const [key, object] of this.objects) {
      const path = join(dir, ...key.split('/'));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, object.body);
    }
  }

  private checkBucket(bucket: string | undefined): void {
    if (bucket !== this.bucket) throw s3Error('NoSuchBucket', 404, `The specified bucket does not exist: ${bucket}`);
  }

  private async put(input: PutObjectCommandInput): Promise<PutObjectCommandOutput> {
    await new Promise(setImmediate);
    this.checkBucket(input.Bucket);
    const key = input.Key!;
    const current = this.objects.get(key);
    if (input.IfNoneMatch !== undefined && current) throw preconditionFailed();
    if (input.IfMatch !== undefined) {
      if (!current) throw noSuchKey();
      if (current.etag !== input.IfMatch) throw preconditionFailed();
    }
    const body = new Uint8Array(input.Body as Uint8Array);
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    this.objects.set(key, { body, etag, contentType: input.ContentType, lastModified: new Date() });
    return { ETag: etag, $metadata: { httpStatusCode: 200 } };
  }

  private async get(input: GetObjectCommandInput): Promise<GetObjectCommandOutput> {
    await new Promise(setImmediate);
    this.checkBucket(input.Bucket);
    const object = this.objects.get(input.Key!);
    if (!object) throw noSuchKey();
    return { Body: objectBody(object.body), ETag: object.etag, ContentLength: object.body.byteLength, $metadata: { httpStatusCode: 200 } };
  }

  private async list(input: ListObjectsV2CommandInput): Promise<ListObjectsV2CommandOutput> {
    await new Promise(setImmediate);
    this.checkBucket(input.Bucket);
    const after = input.ContinuationToken ?? '';
    const keys = [...this.objects.keys()].filter((key) => key.startsWith(input.Prefix ?? '') && key > after).sort();
    const page = keys.slice(0, Math.min(input.MaxKeys ?? this.pageSize, this.pageSize));
    const truncated = keys.length > page.length;
    return {
      Contents: page.map((key) => ({ Key: key, Size: this.objects.get(key)!.body.byteLength, LastModified: this.objects.get(key)!.lastModified })),
      KeyCount: page.length,
      IsTruncated: truncated,
      NextContinuationToken: truncated ? page.at(-1) : undefined,
      $metadata: { httpStatusCode: 200 },
    };
  }

  private async delete(input: DeleteObjectCommandInput): Promise<DeleteObjectCommandOutput> {
    await new Promise(setImmediate);
    this.checkBucket(input.Bucket);
    this.objects.delete(input.Key!);
    return { $metadata: { httpStatusCode: 204 } };
  }
}
