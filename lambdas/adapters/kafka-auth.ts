import type { SASLOptions } from '@platformatic/kafka';
import type { KafkaAuth } from './kafka.ts';

/** SASL for the Kafka adapter: MSK IAM tokens, and unsigned JWTs for the test broker, refreshed before they expire. */

/** A SASL token and when it expires (epoch ms). */
export interface ExpiringToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** As long as the MSK IAM signer's tokens, so the test broker refreshes on the same cadence as MSK. */
export const UNSECURED_TOKEN_LIFETIME_MS = 15 * 60_000;
/** A token is replaced once it has less than this left, so a session never starts on a token about to expire. */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;
/** The shortest token lifetime a test may ask for. */
// JWT `exp` is in whole seconds, so a token has up to a second less than its lifetime; clients
// reauthenticate at 80% of the session, and brokers refuse reauthentication more often than once
// a second (KIP-368). 3 s tokens keep sessions over 1.6 s.
export const MIN_TOKEN_LIFETIME_MS = 3_000;

/** The SASL options of `auth`, or none. */
export function saslOptions(auth: KafkaAuth): SASLOptions | undefined {
  switch (auth.mechanism) {
    case 'none':
      return undefined;
    case 'msk-iam':
      return { mechanism: 'OAUTHBEARER', token: refreshingToken(() => mskIamToken(auth.region)) };
    case 'oauthbearer-unsecured':
      return { mechanism: 'OAUTHBEARER', token: refreshingToken(async () => unsecuredJwt(auth.principal, Date.now(), auth.tokenLifetimeMs)) };
  }
}

async function mskIamToken(region: string): Promise<ExpiringToken> {
  // Loaded on first use: it brings the AWS SDK credential chain, which other auth modes never need.
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
  const { token, expiryTime } = await generateAuthToken({ region });
  return { token, expiresAt: expiryTime };
}

/**
 * A SASL token provider that reuses a token until it has less than `TOKEN_REFRESH_MARGIN_MS`
 * left, then mints a new one (one mint at a time). The client asks again on every
 * (re)authentication, which the broker requires before a session outlives its token (KIP-368).
 */
export function refreshingToken(mint: () => Promise<ExpiringToken>, now: () => number = Date.now): () => Promise<string> {
  let current: ExpiringToken | undefined;
  let minting: Promise<ExpiringToken> | undefined;
  return async () => {
    if (current && current.expiresAt - now() > TOKEN_REFRESH_MARGIN_MS) return current.token;
    minting ??= mint().finally(() => (minting = undefined));
    current = await minting;
    return current.token;
  };
}

/** An unsecured JWT (`alg: none`, claims `sub`, `iat`, `exp`) as Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler` accepts. */
export function unsecuredJwt(principal: string, issuedAt: number, lifetimeMs: number = UNSECURED_TOKEN_LIFETIME_MS): ExpiringToken {
  const iat = Math.floor(issuedAt / 1000);
  const exp = Math.floor((issuedAt + lifetimeMs) / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return { token: `${part({ alg: 'none' })}.${part({ sub: principal, iat, exp })}.`, expiresAt: exp * 1000 };
}
