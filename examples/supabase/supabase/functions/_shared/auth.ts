/**
 * Who is calling: checked inside the function, so it holds whatever `verify_jwt` says. The
 * platform's check only knows the legacy HS256 secret: it refuses the new `sb_...` API keys and
 * JWTs signed with the new signing keys, and with it off nothing checks a signature at all. So
 * every function that is not a provider's webhook runs with `verify_jwt = false` and asks here.
 *
 * A caller is one of:
 * - a server with a secret key (`sb_secret_...` from SUPABASE_SECRET_KEYS or SUPABASE_SECRET_KEY,
 *   or the legacy service-role key SUPABASE_SERVICE_ROLE_KEY) in `apikey` or as the Bearer token:
 *   role `service_role`;
 * - a JWT in `Authorization: Bearer`, signed by one of the project's keys (SUPABASE_JWKS: ES256,
 *   RS256), or by the legacy HS256 secret when SUPABASE_JWT_SECRET is set, unexpired: role from
 *   its `role` claim (`authenticated` for a signed-in user, `anon` for the public key).
 *
 * Anything else (no credentials, a token with a bad signature, an unknown key, `alg: none`, an
 * expired token) is no caller at all: 401.
 */

/** A verified caller: its role. */
interface Caller {
  role: string;
}

const encoder = new TextEncoder();
/** Leeway for clocks a little apart, in seconds. */
const SKEW_S = 30;

function base64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(
      text
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(text.length / 4) * 4, '='),
    );
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function jsonOf(text: string): Record<string, unknown> | undefined {
  const bytes = base64url(text);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Compares two strings in time that depends only on their lengths. */
function same(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i % y.length] ?? 0);
  return diff === 0;
}

/** The project's secret keys, new and legacy. */
function secretKeys(): string[] {
  const keys: string[] = [];
  const many = Deno.env.get('SUPABASE_SECRET_KEYS');
  if (many) {
    try {
      const parsed: unknown = JSON.parse(many);
      if (typeof parsed === 'object' && parsed !== null)
        for (const value of Object.values(parsed)) if (typeof value === 'string' && value !== '') keys.push(value);
    } catch {
      console.error('SUPABASE_SECRET_KEYS is not JSON: no secret key is accepted from it');
    }
  }
  for (const name of ['SUPABASE_SECRET_KEY', 'SUPABASE_SERVICE_ROLE_KEY']) {
    const value = Deno.env.get(name);
    if (value) keys.push(value);
  }
  return keys;
}

type Jwk = JsonWebKey & { kid?: string; alg?: string };

/** The project's public signing keys (SUPABASE_JWKS: `{"keys": [...]}` or `[...]`). */
function signingKeys(): Jwk[] {
  const text = Deno.env.get('SUPABASE_JWKS');
  if (!text) return [];
  try {
    const parsed = JSON.parse(text) as { keys?: unknown } | unknown[];
    const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown }).keys;
    return Array.isArray(keys) ? (keys.filter((k) => typeof k === 'object' && k !== null) as Jwk[]) : [];
  } catch {
    console.error('SUPABASE_JWKS is not JSON: no signing key is trusted from it');
    return [];
  }
}

/** How each accepted `alg` verifies, and which keys can carry it. */
const ALGORITHMS = {
  ES256: {
    kty: 'EC',
    params: { name: 'ECDSA', namedCurve: 'P-256' },
    verify: { name: 'ECDSA', hash: 'SHA-256' },
  },
  RS256: {
    kty: 'RSA',
    params: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    verify: { name: 'RSASSA-PKCS1-v1_5' },
  },
} as const;

const imported = new Map<string, Promise<CryptoKey | undefined>>();

function importKey(jwk: Jwk, alg: keyof typeof ALGORITHMS): Promise<CryptoKey | undefined> {
  const id = `${alg}:${JSON.stringify(jwk)}`;
  let key = imported.get(id);
  if (key === undefined) {
    // the algorithm is the one the token names; verifySignature picked keys whose kty and alg match it
    const params: EcKeyImportParams | RsaHashedImportParams = ALGORITHMS[alg].params;
    key = crypto.subtle.importKey('jwk', jwk as JsonWebKey, params, false, ['verify']).catch(() => undefined);
    imported.set(id, key);
  }
  return key;
}

async function verifySignature(header: Record<string, unknown>, signed: string, signature: Uint8Array<ArrayBuffer>) {
  const data = encoder.encode(signed);
  const alg = header.alg;
  if (alg === 'HS256') {
    const secret = Deno.env.get('SUPABASE_JWT_SECRET');
    if (!secret) return false;
    const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'verify',
    ]);
    return crypto.subtle.verify('HMAC', key, signature, data);
  }
  if (alg !== 'ES256' && alg !== 'RS256') return false; // `none`, HS384, and everything not issued here
  const { kty, verify } = ALGORITHMS[alg];
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const candidates = signingKeys().filter(
    (k) => k.kty === kty && (k.alg === undefined || k.alg === alg) && (kid === undefined || k.kid === kid),
  );
  for (const jwk of candidates) {
    const key = await importKey(jwk, alg);
    if (key && (await crypto.subtle.verify(verify, key, signature, data))) return true;
  }
  return false;
}

async function jwtCaller(token: string): Promise<Caller | undefined> {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [head = '', body = '', sig = ''] = parts;
  const header = jsonOf(head);
  const claims = jsonOf(body);
  const signature = base64url(sig);
  if (!header || !claims || !signature || signature.length === 0) return undefined;
  if (!(await verifySignature(header, `${head}.${body}`, signature))) return undefined;
  const now = Date.now() / 1000;
  // a token without an expiry would be good forever: refused, as Supabase issues none such
  if (typeof claims.exp !== 'number' || claims.exp + SKEW_S < now) return undefined;
  if (typeof claims.nbf === 'number' && claims.nbf - SKEW_S > now) return undefined;
  if (typeof claims.role !== 'string') return undefined;
  return { role: claims.role };
}

/** The verified caller of `request`, or undefined (answer 401). */
async function callerOf(request: Request): Promise<Caller | undefined> {
  const bearer = /^Bearer (\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  const apikey = request.headers.get('apikey') ?? undefined;
  const presented = [apikey, bearer].filter((t): t is string => t !== undefined && t !== '');
  const secrets = secretKeys();
  for (const token of presented) {
    // every key is compared, found or not: the time taken does not say which one matched
    if (secrets.map((s) => same(token, s)).includes(true)) return { role: 'service_role' };
  }
  return bearer === undefined ? undefined : jwtCaller(bearer);
}

/** The 401 or 403 to answer when the caller's role is not one of `roles`, or undefined to go on. */
export async function refuseUnless(request: Request, roles: readonly string[]): Promise<Response | undefined> {
  const caller = await callerOf(request);
  if (caller === undefined)
    return Response.json({ error: 'unauthorized' }, { status: 401, headers: { 'www-authenticate': 'Bearer' } });
  if (!roles.includes(caller.role))
    return Response.json(
      { error: 'forbidden', message: `this function needs the role ${roles.join(' or ')}` },
      { status: 403 },
    );
  return undefined;
}
