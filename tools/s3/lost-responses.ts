import type { S3Client } from '@aws-sdk/client-s3';

/** A request as the fault sees it: the command's name (`PutObjectCommand`) and its input. */
export interface RequestSeen {
  readonly commandName: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/** What a {@link loseResponses} fault did so far. */
export interface LostResponses {
  /** Responses dropped: each request reached the server, which applied it, and the SDK sent it again. */
  readonly lost: number;
}

/** The error a lost response surfaces as: a reset connection, which the SDK's retry strategy retries. */
export class LostResponseError extends Error {
  override name = 'LostResponseError';
  readonly code = 'ECONNRESET';
}

/**
 * Makes `client` lose responses, as a network that drops a connection after the request went
 * through would: the first attempt of each of the first `count` requests that `matches` selects
 * reaches the server and is applied, then its response is thrown away and a retryable ECONNRESET
 * raised instead. The SDK's own retry loop then sends the same request again, with the same
 * headers, and that answer arrives: a conditional PutObject meets its own write.
 *
 * The fault is a middleware placed right after the SDK's response deserializer, inside the retry
 * loop and after signing: where the HTTP handler returns. Add it before the client's first request.
 */
export function loseResponses(client: S3Client, matches: (request: RequestSeen) => boolean, count = Infinity): LostResponses {
  const fault = { lost: 0 };
  const middleware: DeserializeStep = (next, context) => async (args) => {
    const result = await next(args);
    // The SDK's retry middleware numbers the attempts of a request in this header.
    const firstAttempt = args.request.headers?.['amz-sdk-request']?.startsWith('attempt=1;') ?? false;
    if (firstAttempt && fault.lost < count && matches({ commandName: context.commandName ?? '', input: args.input })) {
      fault.lost++;
      // Free the connection: its body will never be read.
      result.response.body?.destroy?.();
      throw new LostResponseError(`the response to ${context.commandName} was lost after the server applied it (injected): socket hang up`);
    }
    return result;
  };
  client.middlewareStack.addRelativeTo(middleware as unknown as Parameters<S3Client['middlewareStack']['addRelativeTo']>[0], {
    relation: 'after',
    toMiddleware: 'deserializerMiddleware',
    name: 'streamlakeLoseResponses',
  });
  return fault;
}

/** The shape of a deserialize-step middleware, as far as this fault uses it. */
type DeserializeStep = (
  next: (args: DeserializeArgs) => Promise<{ response: { body?: { destroy?: () => void } }; output: unknown }>,
  context: { commandName?: string },
) => (args: DeserializeArgs) => Promise<{ response: { body?: { destroy?: () => void } }; output: unknown }>;

interface DeserializeArgs {
  readonly input: Readonly<Record<string, unknown>>;
  readonly request: { readonly headers?: Readonly<Record<string, string>> };
}

/** Selects conditional PutObject requests: those with `If-None-Match` or `If-Match`. */
export function isConditionalPut({ commandName, input }: RequestSeen): boolean {
  return commandName === 'PutObjectCommand' && (input.IfNoneMatch !== undefined || input.IfMatch !== undefined);
}
