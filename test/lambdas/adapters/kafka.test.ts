import { describe, expect, it } from 'vitest';
import { KafkaConfigError, type KafkaConnection } from '../../../lambdas/adapters/kafka.ts';
import { refreshingToken, TOKEN_REFRESH_MARGIN_MS, UNSECURED_TOKEN_LIFETIME_MS, unsecuredJwt, type ExpiringToken } from '../../../lambdas/adapters/kafka-auth.ts';
import { openKafkaReader } from '../../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../../lambdas/adapters/kafka-writer.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const connection: KafkaConnection = { brokers: ['localhost:9092'], topic: 'device-logs', clientId: 'test', auth: { mechanism: 'none' }, tls: false };

function decodePart(part: string): unknown {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

describe('Kafka adapter configuration', () => {
  it.each([
    ['no brokers', { brokers: [] }, /at least one bootstrap broker/],
    ['a broker without a port', { brokers: ['localhost'] }, /"localhost" is not host:port/],
    ['MSK IAM without TLS', { auth: { mechanism: 'msk-iam', region: 'eu-west-1' } as const }, /TLS only.*set tls to true/],
    ['an unsecured token shorter than three seconds', { auth: { mechanism: 'oauthbearer-unsecured', principal: 'alice', tokenLifetimeMs: 2_000 } as const }, /tokenLifetimeMs must be .* at least 3000 ms/],
  ])('refuses %s before connecting, saying what to change', async (_case, change, message) => {
    const wrong = { ...connection, ...change };
    await expect(openKafkaWriter(wrong)).rejects.toThrow(KafkaConfigError);
    await expect(openKafkaReader(wrong)).rejects.toThrow(message);
  });
});

describe('unsecuredJwt', () => {
  it('is an unsigned JWT naming the principal, valid for the lifetime of an MSK IAM token', () => {
    const { token, expiresAt } = unsecuredJwt('alice', T0 + 999);
    const [header, claims, signature] = token.split('.');
    expect(decodePart(header!)).toEqual({ alg: 'none' });
    expect(decodePart(claims!)).toEqual({ sub: 'alice', iat: T0 / 1000, exp: (T0 + UNSECURED_TOKEN_LIFETIME_MS) / 1000 });
    expect(signature).toBe('');
    expect(expiresAt).toBe(T0 + UNSECURED_TOKEN_LIFETIME_MS);
  });

  it('expires after the lifetime asked for, in whole seconds', () => {
    const { token, expiresAt } = unsecuredJwt('alice', T0 + 999, 3_000);
    expect(decodePart(token.split('.')[1]!)).toEqual({ sub: 'alice', iat: T0 / 1000, exp: (T0 + 3_000) / 1000 });
    expect(expiresAt).toBe(T0 + 3_000);
  });
});

describe('refreshingToken', () => {
  function minter(lifetimeMs: number) {
    const minted: number[] = [];
    let clock = T0;
    const mint = async (): Promise<ExpiringToken> => {
      minted.push(clock);
      return { token: `token-${minted.length}`, expiresAt: clock + lifetimeMs };
    };
    return { minted, mint, now: () => clock, advance: (ms: number) => (clock += ms) };
  }

  it('reuses a token until it is about to expire, then mints a new one', async () => {
    const source = minter(UNSECURED_TOKEN_LIFETIME_MS);
    const token = refreshingToken(source.mint, source.now);
    expect(await token()).toBe('token-1');
    source.advance(UNSECURED_TOKEN_LIFETIME_MS - TOKEN_REFRESH_MARGIN_MS - 1);
    expect(await token()).toBe('token-1');
    source.advance(1);
    expect(await token()).toBe('token-2');
    expect(source.minted).toEqual([T0, T0 + UNSECURED_TOKEN_LIFETIME_MS - TOKEN_REFRESH_MARGIN_MS]);
  });

  it('mints once for concurrent requests', async () => {
    const source = minter(UNSECURED_TOKEN_LIFETIME_MS);
    const token = refreshingToken(source.mint, source.now);
    expect(await Promise.all([token(), token(), token()])).toEqual(['token-1', 'token-1', 'token-1']);
    expect(source.minted).toHaveLength(1);
  });

  it('mints again after a failed mint instead of keeping the failure', async () => {
    let calls = 0;
    const token = refreshingToken(async () => {
      if (++calls === 1) throw new Error('credentials not ready');
      return { token: 'fresh', expiresAt: Date.now() + UNSECURED_TOKEN_LIFETIME_MS };
    });
    await expect(token()).rejects.toThrow('credentials not ready');
    expect(await token()).toBe('fresh');
  });
});
