import { isVaultError, type Secret, secret, type Vault } from '@ballast/core/vault';
import { PipedriveWebhookError } from './webhook-errors';

/*
 * Registering a Pipedrive webhook (`POST /v1/webhooks`) with Basic
 * credentials generated here and kept in the vault: the endpoint reads them
 * back with `pipedriveWebhookCredentials`, and nothing else ever sees them.
 * Pipedrive has no endpoint to update a webhook, so a rotation registers a
 * new webhook with new credentials and removes the old one, the endpoint
 * accepting both meanwhile.
 */

/** What the registration needs of a client: `pipedriveClient(...)` fits. */
export interface PipedriveWebhooksApi {
  webhooks: {
    list(options?: { signal?: AbortSignal }): Promise<ReadonlyArray<Record<string, unknown>>>;
    create(body: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
    delete(id: number, options?: { signal?: AbortSignal }): Promise<void>;
  };
}

/** A webhook as `GET /v1/webhooks` lists it (the fields the helper reads; the rest kept). */
export interface PipedriveWebhookRegistration {
  id: number;
  subscription_url: string;
  event_action: string;
  event_object: string;
  version?: string;
  http_auth_user?: string | null;
  [field: string]: unknown;
}

/** Options for {@link registerPipedriveWebhook} and the other registration helpers. */
export interface PipedriveWebhookRegistrationOptions {
  /** The API client: `pipedriveClient(...)`. */
  client: PipedriveWebhooksApi;
  /** Where the generated credentials are kept: `createVault(...)` or `supabaseVault(db)`. */
  vault: Pick<Vault, 'get' | 'put' | 'delete'>;
  /** The vault tenant the credentials belong to (e.g. the Pipedrive company). */
  tenant: string;
  /** The endpoint's public URL (HTTPS with a publicly trusted certificate; it must not redirect). */
  subscriptionUrl: string;
  /** `create`, `change`, `delete` or `*`. @default '*' */
  eventAction?: 'create' | 'change' | 'delete' | '*';
  /** `person`, `deal`, ... or `*`. @default '*' */
  eventObject?: string;
  /** The webhook's name in Pipedrive. */
  name?: string;
  /** The Pipedrive user whose permissions the events follow. @default the token's user */
  userId?: number;
  /** The vault name of the credentials; the previous ones of a rotation sit under `<secretName>:previous`. @default 'pipedrive_webhook' */
  secretName?: string;
  /** Aborts the calls to Pipedrive. */
  signal?: AbortSignal;
}

/** What {@link registerPipedriveWebhook} and {@link rotatePipedriveWebhook} did. */
export interface PipedriveWebhookRegistrationResult {
  /** The webhook as Pipedrive answered or listed it. */
  webhook: PipedriveWebhookRegistration;
  /** False when a webhook for the same URL, events and stored credentials already existed. */
  created: boolean;
  /** The credentials the endpoint must accept (`user:password`), as stored in the vault. */
  credentials: Secret;
  /** Webhooks for the same URL removed because their credentials were not the stored ones (or, on rotation, the old one). */
  removed: number[];
}

const DEFAULT_SECRET = 'pipedrive_webhook';

function normalize(api: string, options: PipedriveWebhookRegistrationOptions) {
  if (typeof options !== 'object' || options === null)
    throw new PipedriveWebhookError(api, 'invalid_options', 'options must be an object');
  const { client, vault, tenant, subscriptionUrl } = options;
  if (typeof client?.webhooks?.create !== 'function')
    throw new PipedriveWebhookError(api, 'invalid_options', 'client must be a pipedriveClient');
  if (typeof vault?.get !== 'function' || typeof vault.put !== 'function')
    throw new PipedriveWebhookError(api, 'invalid_options', 'vault must be a Vault (createVault or supabaseVault)');
  if (typeof tenant !== 'string' || tenant.length === 0)
    throw new PipedriveWebhookError(api, 'invalid_options', 'tenant must be a non-empty string');
  if (typeof subscriptionUrl !== 'string' || !URL.canParse(subscriptionUrl))
    throw new PipedriveWebhookError(api, 'invalid_options', 'subscriptionUrl must be an absolute URL');
  const protocol = new URL(subscriptionUrl).protocol;
  if (protocol !== 'https:' && protocol !== 'http:')
    throw new PipedriveWebhookError(api, 'invalid_options', 'subscriptionUrl must be http(s)');
  const eventAction = options.eventAction ?? '*';
  if (!['create', 'change', 'delete', '*'].includes(eventAction))
    throw new PipedriveWebhookError(api, 'invalid_options', "eventAction must be 'create', 'change', 'delete' or '*'");
  const eventObject = options.eventObject ?? '*';
  if (typeof eventObject !== 'string' || eventObject.length === 0)
    throw new PipedriveWebhookError(api, 'invalid_options', 'eventObject must be a non-empty string');
  return {
    client,
    vault,
    tenant,
    subscriptionUrl,
    eventAction,
    eventObject,
    secretName: options.secretName ?? DEFAULT_SECRET,
    call: options.signal ? { signal: options.signal } : {},
    extra: {
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.userId === undefined ? {} : { user_id: options.userId }),
    },
  };
}

/** New Basic credentials: a recognizable user and 192 random bits of password (base64url: no `:`). */
function generateCredentials(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(28));
  const user = `ballast-${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  const password = btoa(String.fromCharCode(...bytes.subarray(4)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
  return `${user}:${password}`;
}

async function stored(vault: Pick<Vault, 'get'>, tenant: string, name: string): Promise<Secret | undefined> {
  try {
    return await vault.get(tenant, name);
  } catch (error) {
    if (isVaultError(error) && error.code === 'not_found') return undefined;
    throw error;
  }
}

const userOf = (credentials: Secret) => credentials.reveal().slice(0, credentials.reveal().indexOf(':'));

function asRegistration(api: string, value: Record<string, unknown>): PipedriveWebhookRegistration {
  if (typeof value?.id !== 'number')
    throw new PipedriveWebhookError(api, 'registration_failed', 'Pipedrive answered a webhook without an id');
  return value as PipedriveWebhookRegistration;
}

async function sameUrl(o: ReturnType<typeof normalize>, api: string): Promise<PipedriveWebhookRegistration[]> {
  const all = await o.client.webhooks.list(o.call);
  return all
    .filter((w) => w.subscription_url === o.subscriptionUrl)
    .map((w) => asRegistration(api, w as Record<string, unknown>));
}

async function create(o: ReturnType<typeof normalize>, api: string, credentials: Secret) {
  const text = credentials.reveal();
  const colon = text.indexOf(':');
  const created = await o.client.webhooks.create(
    {
      subscription_url: o.subscriptionUrl,
      event_action: o.eventAction,
      event_object: o.eventObject,
      version: '2.0',
      http_auth_user: text.slice(0, colon),
      http_auth_password: text.slice(colon + 1),
      ...o.extra,
    },
    o.call,
  );
  return asRegistration(api, created);
}

/**
 * Registers the endpoint with Pipedrive, idempotently: a webhook for the same
 * URL and events whose Basic user is the one stored in the vault is kept as
 * it is (`created: false`); otherwise new credentials are generated, stored
 * in the vault (before Pipedrive can send anything with them), and a v2
 * webhook is created with them. Webhooks for the same URL with other
 * credentials (lost, or left by an interrupted run) are removed, since the
 * endpoint would answer them 401 and each failed first delivery counts
 * towards Pipedrive's 30-minute ban.
 *
 * @example
 * ```ts
 * const { credentials } = await registerPipedriveWebhook({ client, vault, tenant: 'acme', subscriptionUrl: 'https://app.example.com/webhooks/pipedrive' });
 * const webhook = pipedriveWebhooks({ credentials, inbox, on: handlers });
 * ```
 */
export async function registerPipedriveWebhook(
  options: PipedriveWebhookRegistrationOptions,
): Promise<PipedriveWebhookRegistrationResult> {
  const api = 'registerPipedriveWebhook';
  const o = normalize(api, options);
  const existing = await sameUrl(o, api);
  let credentials = await stored(o.vault, o.tenant, o.secretName);
  const user = credentials && userOf(credentials);
  const keep = existing.find(
    (w) =>
      user !== undefined &&
      w.http_auth_user === user &&
      w.event_action === o.eventAction &&
      w.event_object === o.eventObject &&
      (w.version === undefined || w.version === '2.0'),
  );
  const removed: number[] = [];
  for (const w of existing) {
    if (w === keep) continue;
    await o.client.webhooks.delete(w.id, o.call);
    removed.push(w.id);
  }
  if (keep && credentials) return { webhook: keep, created: false, credentials, removed };
  credentials = secret(generateCredentials());
  await o.vault.put(o.tenant, o.secretName, credentials);
  const webhook = await create(o, api, credentials);
  return { webhook, created: true, credentials, removed };
}

/**
 * Rotates the webhook's credentials: new ones are stored (the current ones
 * move to `<secretName>:previous`, so an endpoint built from
 * {@link pipedriveWebhookCredentials} accepts both), a new webhook is
 * registered with them, then the old webhook is removed. Rebuild the
 * endpoint's handler from the vault before rotating.
 */
export async function rotatePipedriveWebhook(
  options: PipedriveWebhookRegistrationOptions,
): Promise<PipedriveWebhookRegistrationResult> {
  const api = 'rotatePipedriveWebhook';
  const o = normalize(api, options);
  const current = await stored(o.vault, o.tenant, o.secretName);
  const existing = await sameUrl(o, api);
  if (current) await o.vault.put(o.tenant, `${o.secretName}:previous`, current);
  const credentials = secret(generateCredentials());
  await o.vault.put(o.tenant, o.secretName, credentials);
  const webhook = await create(o, api, credentials);
  const removed: number[] = [];
  for (const w of existing) {
    await o.client.webhooks.delete(w.id, o.call);
    removed.push(w.id);
  }
  return { webhook, created: true, credentials, removed };
}

/**
 * Removes every webhook registered for the URL and deletes the stored
 * credentials (current and previous). Resolves with the removed webhook ids.
 */
export async function removePipedriveWebhook(
  options: PipedriveWebhookRegistrationOptions,
): Promise<{ removed: number[]; credentialsDeleted: boolean }> {
  const api = 'removePipedriveWebhook';
  const o = normalize(api, options);
  const removed: number[] = [];
  for (const w of await sameUrl(o, api)) {
    await o.client.webhooks.delete(w.id, o.call);
    removed.push(w.id);
  }
  const credentialsDeleted = await o.vault.delete(o.tenant, o.secretName);
  await o.vault.delete(o.tenant, `${o.secretName}:previous`);
  return { removed, credentialsDeleted };
}

/**
 * The credentials an endpoint accepts: the stored ones and, after a
 * rotation, the previous ones. Pass them to `pipedriveWebhooks({ credentials })`.
 * @throws PipedriveWebhookError `invalid_options` when none are stored (register first).
 */
export async function pipedriveWebhookCredentials(
  vault: Pick<Vault, 'get'>,
  tenant: string,
  secretName = DEFAULT_SECRET,
): Promise<Secret[]> {
  const current = await stored(vault, tenant, secretName);
  if (!current)
    throw new PipedriveWebhookError(
      'pipedriveWebhookCredentials',
      'invalid_options',
      `no webhook credentials stored for tenant ${tenant} under ${secretName}: run registerPipedriveWebhook first`,
    );
  const previous = await stored(vault, tenant, `${secretName}:previous`);
  return previous ? [current, previous] : [current];
}
