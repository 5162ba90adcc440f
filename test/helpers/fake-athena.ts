import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Athena API call as the SDK sent it: the operation (from X-Amz-Target) and its JSON input. */
export interface AthenaCall {
  readonly operation: string;
  readonly input: Record<string, unknown>;
}

/** A reply: JSON output, or an error shape (`{ __type, Message }`) with a 4xx/5xx status. */
export interface AthenaReply {
  readonly status?: number;
  readonly body: unknown;
}

export interface FakeAthena {
  /** Point the SDK here with AWS_ENDPOINT_URL_ATHENA. */
  readonly url: string;
  readonly calls: AthenaCall[];
  close(): Promise<void>;
}

/**
 * A local HTTP endpoint that speaks Athena's JSON protocol (awsJson1_1), so a `streamlake` process
 * runs its real AWS SDK client against it, from request signing to error parsing, without AWS.
 */
export async function startFakeAthena(reply: (call: AthenaCall, calls: readonly AthenaCall[]) => AthenaReply): Promise<FakeAthena> {
  const calls: AthenaCall[] = [];
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => (text += chunk));
    request.on('end', () => {
      const call = { operation: String(request.headers['x-amz-target']).replace('AmazonAthena.', ''), input: JSON.parse(text || '{}') as Record<string, unknown> };
      calls.push(call);
      const { status = 200, body } = reply(call, calls);
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
