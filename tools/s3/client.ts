import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3Endpoint } from './server.ts';

/**
 * An S3 client of the server at `endpoint`, addressing buckets path-style (a loopback address has
 * no bucket subdomains). `config` adds to or overrides the client's settings, e.g. `maxAttempts`.
 */
export function s3ClientOf(endpoint: S3Endpoint, config: S3ClientConfig = {}): S3Client {
  return new S3Client({ endpoint: endpoint.endpoint, region: endpoint.region, credentials: endpoint.credentials, forcePathStyle: true, ...config });
}

/**
 * Creates a bucket no other test uses, named `<prefix>-<random>` (S3 bucket names: 3 to 63
 * lowercase letters, digits and hyphens), and returns its name.
 */
export async function createUniqueBucket(client: S3Client, prefix = 'streamlake-test'): Promise<string> {
  const bucket = `${prefix}-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}
