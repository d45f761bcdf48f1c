/**
 * The master keyring: one primary key that wraps new data keys, older keys
 * kept to unwrap what they wrapped, and retired ids that fail loudly.
 */
import { z } from 'zod';
import { KEY_BYTES } from './crypto';
import { fromBase64, KEY_ID } from './envelope';
import { VaultError } from './errors';
import { isSecret, type Secret } from './secret';

/**
 * Master keys as the app passes them in (read from its secret manager or an
 * environment variable by the app: the library never reads the environment).
 */
export interface KeyringConfig {
  /** Id of the key that wraps new and rotated data keys; must be in `keys`. */
  primary: string;
  /**
   * Keys by id (1-64 of `A-Z a-z 0-9 . _ -`), each 32 random bytes in base64
   * (standard or URL-safe), as a string or a {@link Secret}.
   */
  keys: Readonly<Record<string, string | Secret>>;
  /**
   * Ids of keys taken out of service. Their material is no longer needed;
   * anything still wrapped by one fails with a `key_retired` error naming it.
   * @default []
   */
  retired?: readonly string[];
}

/** A validated keyring. Shows key ids only: never its key material. */
export interface Keyring {
  /** Id of the key that wraps new data keys. */
  readonly primary: string;
  /** Ids of the keys that can unwrap, primary included. */
  readonly keyIds: readonly string[];
  /** Ids of retired keys. */
  readonly retired: readonly string[];
}

const API = 'keyring';
const material = new WeakMap<Keyring, ReadonlyMap<string, Uint8Array>>();

const configSchema = z.object({
  primary: z.string(),
  keys: z.record(z.string(), z.union([z.string(), z.custom<Secret>(isSecret)])),
  retired: z.array(z.string()).optional(),
});

/**
 * Builds a keyring from configuration, or from a string an app read from its
 * environment: either JSON of a {@link KeyringConfig}, or `id:base64` entries
 * separated by commas or whitespace, the first one primary.
 *
 * Validates everything at once, so a missing or malformed key fails at
 * startup rather than at the first decrypt. Errors name key ids, never key
 * material.
 *
 * @throws VaultError `key_missing` when no configuration is given or the primary id has no key;
 * `malformed_key` when a key is not 32 bytes of base64 or an id is not valid;
 * `invalid_argument` when the configuration has the wrong shape.
 * @example
 * ```ts
 * const keys = keyring({ primary: 'k2', keys: { k1: oldKeyBase64, k2: newKeyBase64 } });
 * const sameKeys = keyring(appConfig.vaultKeys); // 'k2:<base64>,k1:<base64>'
 * ```
 */
export function keyring(config: KeyringConfig | string | Keyring): Keyring {
  if (isKeyring(config)) return config;
  if (config === undefined || config === null || (typeof config === 'string' && config.trim() === '')) {
    throw new VaultError(API, 'key_missing', 'no master key configuration was given (is the variable set?)');
  }
  const parsed = configSchema.safeParse(typeof config === 'string' ? parseKeyringText(config) : config);
  if (!parsed.success) {
    // Path segments under `keys` are ids the caller chose; show them only when they look like ids.
    const where = parsed.error.issues
      .map((issue) => issue.path.map((segment) => printableId(String(segment))).join('.') || '(root)')
      .join(', ');
    throw new VaultError(API, 'invalid_argument', `keyring configuration has the wrong shape at: ${where}`);
  }
  const { primary, keys, retired = [] } = parsed.data;
  const byId = new Map<string, Uint8Array>();
  for (const [index, [id, value]] of Object.entries(keys).entries()) {
    checkId(id, `the id of the key at position ${index + 1}`);
    const bytes = fromBase64(typeof value === 'string' ? value : value.reveal());
    if (bytes?.length !== KEY_BYTES) {
      throw new VaultError(
        API,
        'malformed_key',
        `${describeId(id, index)} is not ${KEY_BYTES} bytes of base64 (got ${gotWhat(value, bytes)})`,
        idContext(id),
      );
    }
    byId.set(id, bytes);
  }
  for (const [index, id] of retired.entries()) {
    checkId(id, `the retired id at position ${index + 1}`);
    if (byId.has(id)) {
      throw new VaultError(
        API,
        'invalid_argument',
        `${describeId(id)} is listed both with its material and as retired`,
        idContext(id),
      );
    }
  }
  checkId(primary, 'the primary id');
  if (retired.includes(primary)) {
    throw new VaultError(
      API,
      'key_retired',
      `the primary ${describeId(primary)} is listed as retired`,
      idContext(primary),
    );
  }
  if (!byId.has(primary)) {
    throw new VaultError(
      API,
      'key_missing',
      `the primary ${describeId(primary)} is not among the keys (${[...byId.keys()].map(printableId).join(', ') || 'none'})`,
      idContext(primary),
    );
  }
  const ring: Keyring = Object.freeze({
    primary,
    keyIds: Object.freeze([...byId.keys()]),
    retired: Object.freeze([...retired]),
    [Symbol.for('nodejs.util.inspect.custom')]: () =>
      `Keyring(primary: ${primary}, keys: ${[...byId.keys()].join(', ')})`,
  });
  material.set(ring, byId);
  return ring;
}

/** True for a keyring built by {@link keyring}. */
export function isKeyring(value: unknown): value is Keyring {
  return typeof value === 'object' && value !== null && material.has(value as Keyring);
}

/**
 * Returns a key's raw bytes for the vault to import.
 * @throws VaultError `key_retired` or `key_missing`, naming the key id.
 * @internal
 */
export function keyMaterial(ring: Keyring, keyId: string, api: string): Uint8Array {
  const bytes = material.get(ring)?.get(keyId);
  if (bytes) return bytes;
  // The id comes from stored bytes: never echo one that has the form of a key.
  const shown = shownKeyId(keyId);
  const context = shown === keyId ? { keyId } : {};
  if (ring.retired.includes(keyId)) {
    throw new VaultError(
      api,
      'key_retired',
      `master key ${shown} is retired but still needed here: put it back in the keyring (not as primary) and run vault.rotate() to move what needs it`,
      context,
    );
  }
  throw new VaultError(api, 'key_missing', `master key ${shown} is not in the keyring`, context);
}

/**
 * A key id read from stored or given bytes, as a message may show it: as is,
 * unless it has the form of a key (see {@link looksLikeKey}).
 * @internal
 */
export function shownKeyId(id: string): string {
  return looksLikeKey(id) ? `(an id of ${id.length} characters that has the form of a key)` : id;
}

/**
 * Ids longer than this are never echoed in keyring errors: the shortest key
 * anyone pastes (16 bytes as base64url) is 22 characters, so an echoed id can
 * never be a whole key, and a fragment of one at most 20 characters long
 * only when someone cut a key to look like an id.
 */
const MAX_ECHOED_ID = 20;

/**
 * True for an id that may appear in a message or a `keyId` field: a valid id
 * of at most {@link MAX_ECHOED_ID} characters. Anything else (a key pasted
 * where an id belongs, an id swapped with its key) is described by its
 * position and length only.
 */
function echoable(id: string): boolean {
  return id.length <= MAX_ECHOED_ID && KEY_ID.test(id);
}

/** An id as it may appear in a list inside a message. */
function printableId(id: string): string {
  return echoable(id) ? id : `(an id of ${id.length} characters)`;
}

/** `key k1`, or `the key at position 3 (an id of 43 characters)` (`key (an id of …)` without a position) for an id that is not echoed. */
function describeId(id: string, index?: number): string {
  if (echoable(id)) return `key ${id}`;
  return `${index === undefined ? 'key' : `the key at position ${index + 1}`} (an id of ${id.length} characters)`;
}

/** The `keyId` field of an error: only for an id that may be echoed. */
function idContext(id: string): { keyId?: string } {
  return echoable(id) ? { keyId: id } : {};
}

/**
 * True for an id that is itself a master key: 32 bytes as base64 (standard or
 * URL-safe) or as hex. Such an id would be written into every envelope and
 * printed in logs, so it is refused: usually the id and the key were swapped.
 */
function looksLikeKey(id: string): boolean {
  return /^[0-9a-fA-F]{64}$/.test(id) || fromBase64(id)?.length === KEY_BYTES;
}

/** Throws `malformed_key` for an id that is not valid or that looks like a key; never echoes it. */
function checkId(id: string, where: string): void {
  if (!KEY_ID.test(id)) {
    throw new VaultError(API, 'malformed_key', `${where} (${id.length} characters) is not 1-64 of A-Z a-z 0-9 . _ -`);
  }
  if (looksLikeKey(id)) {
    throw new VaultError(
      API,
      'malformed_key',
      `${where} (${id.length} characters) has the form of a ${KEY_BYTES}-byte key: entries are id:key (were the id and the key swapped?)`,
    );
  }
}

/** What a rejected key decoded to, for the message: a length or a hint, never the text. */
function gotWhat(value: string | Secret, bytes: Uint8Array | undefined): string {
  const text = typeof value === 'string' ? value : value.reveal();
  if (/^[0-9a-fA-F]{64}$/.test(text.trim())) return '64 hex digits: give the same bytes in base64';
  return bytes ? `${bytes.length} bytes` : 'text that is not base64';
}

/** Parses the text form: JSON, or `id:base64` entries with the first primary. */
function parseKeyringText(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed);
    } catch {
      throw new VaultError(API, 'invalid_argument', 'keyring text starts with "{" but is not valid JSON');
    }
  }
  // A Map, so an id such as `constructor` or `__proto__` is an id like any other.
  const keys = new Map<string, string>();
  let primary: string | undefined;
  for (const [index, entry] of trimmed.split(/[\s,]+/).entries()) {
    const colon = entry.indexOf(':');
    if (colon <= 0) {
      throw new VaultError(
        API,
        'malformed_key',
        `keyring text entry ${index + 1} is not id:base64 (entries are separated by commas or whitespace)`,
      );
    }
    const id = entry.slice(0, colon);
    if (keys.has(id))
      throw new VaultError(API, 'malformed_key', `${describeId(id, index)} appears twice in the keyring text`);
    keys.set(id, entry.slice(colon + 1));
    primary ??= id;
  }
  return { primary, keys: Object.fromEntries(keys) };
}
