import { PipedriveUsageError } from './errors';
import type { PipedriveAuth } from './limits';

/** A credential value: a string, or a vault `Secret` revealed only into the header. */
export type PipedriveCredential = string | { reveal(): string };

/** OAuth tokens as the client hands them to `refresh` and `onTokens`. */
export interface PipedriveOAuthTokens {
  accessToken: string;
  /** The refresh token, when the caller has one (Pipedrive rotates it on refresh). */
  refreshToken?: string | undefined;
  /** Epoch milliseconds when the access token expires, when known. */
  expiresAt?: number | undefined;
}

/** Authenticates with a personal API token, sent as `x-api-token`. */
export interface PipedriveApiTokenAuth {
  type: 'api_token';
  /** The API token: a string or a vault `Secret`. */
  token: PipedriveCredential;
}

/** Authenticates with an OAuth access token (`Authorization: Bearer`), refreshed through `refresh`. */
export interface PipedriveOAuthAuth {
  type: 'oauth';
  /** The current access token. */
  accessToken: PipedriveCredential;
  /** The current refresh token, handed to `refresh`. */
  refreshToken?: PipedriveCredential;
  /** Epoch milliseconds (or a Date) when `accessToken` expires; refreshed ahead of it when known. */
  expiresAt?: number | Date;
  /**
   * Exchanges the current tokens for new ones (your call to
   * `https://oauth.pipedrive.com/oauth/token`). Called at most once at a time:
   * concurrent calls that need a refresh wait for the same one.
   */
  refresh: (current: PipedriveOAuthTokens) => Promise<PipedriveOAuthTokens>;
  /** Receives every new set of tokens, to store (e.g. in the vault). Awaited before the replay. */
  onTokens?: (tokens: PipedriveOAuthTokens) => void | Promise<void>;
  /**
   * Refresh this long before `expiresAt`, in milliseconds.
   * @default 60_000
   */
  refreshAheadMs?: number;
  /**
   * The name of this OAuth grant for the shared burst window and daily budget
   * (tokens rotate; the window does not). Give each installation its own;
   * required with `redis` unless `companyDomain` names the installation.
   * @default the client's `companyDomain`, else 'default'
   */
  id?: string;
}

/** How {@link pipedriveClient} authenticates. */
export type PipedriveAuthOptions = PipedriveApiTokenAuth | PipedriveOAuthAuth;

/** The header a request carries, and which credential generation it came from. @internal */
export interface AuthHeader {
  name: 'x-api-token' | 'authorization';
  value: string;
  generation: number;
}

/** The client's view of its credential. @internal */
export interface TokenSource {
  readonly type: PipedriveAuth;
  /** The header to send now (refreshes first when the OAuth token is known to be expired). */
  header(): Promise<AuthHeader>;
  /**
   * A request sent with `generation` got 401. Resolves true when a newer
   * token is now in place (refreshed here or by a concurrent call): replay once.
   */
  renew(generation: number): Promise<boolean>;
  /** A stable, non-secret name of the token for limiter and budget keys. */
  readonly id: string;
}

const API = 'pipedriveClient';

function revealer(value: unknown, field: string): () => string {
  if (typeof value === 'string') {
    if (value.trim() === '') throw new PipedriveUsageError(API, 'invalid_options', `${field} must not be empty`);
    return () => value;
  }
  if (typeof value === 'object' && value !== null && typeof (value as { reveal?: unknown }).reveal === 'function') {
    const secret = value as { reveal(): string };
    return () => secret.reveal();
  }
  throw new PipedriveUsageError(API, 'invalid_options', `${field} must be a string or a vault Secret`);
}

/**
 * A short, stable name of a token for limiter and budget keys: two FNV-1a
 * 32-bit hashes (64 bits). Not a secret-grade digest, and it need not be: a
 * Pipedrive token carries 160 random bits, far more than 64 bits reveal.
 * Synchronous, so a client is ready without a round trip through Web Crypto.
 */
function fingerprint(token: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** Builds the token source of a client from its `auth` option. @internal */
export function tokenSource(auth: PipedriveAuthOptions, fallbackId?: string): TokenSource {
  if (typeof auth !== 'object' || auth === null)
    throw new PipedriveUsageError(
      API,
      'invalid_options',
      "auth must be { type: 'api_token', token } or { type: 'oauth', ... }",
    );
  if (auth.type === 'api_token') {
    const reveal = revealer(auth.token, 'auth.token');
    return {
      type: 'api_token',
      header: async () => ({ name: 'x-api-token', value: reveal(), generation: 0 }),
      renew: async () => false,
      id: `token:${fingerprint(reveal())}`,
    };
  }
  if (auth.type === 'oauth') return oauthSource(auth, fallbackId);
  throw new PipedriveUsageError(API, 'invalid_options', "auth.type must be 'api_token' or 'oauth'");
}

function oauthSource(auth: PipedriveOAuthAuth, fallbackId: string | undefined): TokenSource {
  let access = revealer(auth.accessToken, 'auth.accessToken');
  let refreshToken = auth.refreshToken === undefined ? undefined : revealer(auth.refreshToken, 'auth.refreshToken');
  if (typeof auth.refresh !== 'function')
    throw new PipedriveUsageError(API, 'invalid_options', 'auth.refresh must be a function (OAuth tokens expire)');
  if (auth.onTokens !== undefined && typeof auth.onTokens !== 'function')
    throw new PipedriveUsageError(API, 'invalid_options', 'auth.onTokens must be a function');
  let expiresAt = auth.expiresAt instanceof Date ? auth.expiresAt.getTime() : auth.expiresAt;
  if (expiresAt !== undefined && !Number.isFinite(expiresAt))
    throw new PipedriveUsageError(API, 'invalid_options', 'auth.expiresAt must be epoch milliseconds or a Date');
  const ahead = auth.refreshAheadMs ?? 60_000;
  if (typeof ahead !== 'number' || !(ahead >= 0))
    throw new PipedriveUsageError(API, 'invalid_options', 'auth.refreshAheadMs must be a non-negative number');
  const name = auth.id ?? fallbackId ?? 'default';
  if (typeof name !== 'string' || name === '')
    throw new PipedriveUsageError(API, 'invalid_options', 'auth.id must be a non-empty string');
  let generation = 0;
  let inFlight: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    inFlight ??= (async () => {
      try {
        const current: PipedriveOAuthTokens = { accessToken: access(), refreshToken: refreshToken?.(), expiresAt };
        const next = await auth.refresh(current);
        if (
          typeof next !== 'object' ||
          next === null ||
          typeof next.accessToken !== 'string' ||
          next.accessToken === ''
        )
          throw new PipedriveUsageError(API, 'invalid_options', 'auth.refresh must resolve with { accessToken, ... }');
        const token = next.accessToken;
        access = () => token;
        if (next.refreshToken !== undefined) {
          const rt = next.refreshToken;
          refreshToken = () => rt;
        }
        expiresAt = next.expiresAt;
        generation++;
        await auth.onTokens?.({ accessToken: token, refreshToken: refreshToken?.(), expiresAt });
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  return {
    type: 'oauth',
    async header() {
      if (inFlight) await inFlight;
      else if (expiresAt !== undefined && Date.now() >= expiresAt - ahead) await refresh();
      return { name: 'authorization', value: `Bearer ${access()}`, generation };
    },
    async renew(used) {
      if (used < generation) return true; // someone refreshed since this request left
      if (inFlight) {
        await inFlight;
        return true;
      }
      await refresh();
      return true;
    },
    id: `oauth:${name}`,
  };
}
