/**
 * Test helpers: Pipedrive webhook payloads and deliveries built by hand (the
 * Authorization header is encoded here with `btoa`, independently of
 * Ballast's signer).
 * @internal
 */

let counter = 0;

/** A v2 webhook payload as Pipedrive documents it (providers.md §2.5). */
export function v2Payload(
  entity: string,
  action: 'create' | 'change' | 'delete',
  object: Record<string, unknown>,
  options: {
    id?: string;
    timestamp?: string | number;
    previous?: Record<string, unknown> | null;
    attempt?: number;
  } = {},
) {
  const objectId = object.id;
  return {
    meta: {
      action,
      entity,
      company_id: '1234',
      correlation_id: '0b5f2c9e-2f4b-4b4a-9d50-6c4a4a1f0001',
      entity_id: String(objectId),
      id: options.id ?? `9f1c2a7e-0000-4000-8000-${String(++counter).padStart(12, '0')}`,
      is_bulk_edit: false,
      timestamp: options.timestamp ?? '2026-01-05T10:00:00.000Z',
      type: 'general',
      user_id: '42',
      version: '2.0',
      webhook_id: '77',
      webhook_owner_id: '42',
      change_source: 'app',
      attempt: options.attempt ?? 1,
      host: 'acme.pipedrive.com',
      permitted_user_ids: ['42'],
    },
    data: action === 'delete' ? null : object,
    previous:
      options.previous === undefined
        ? action === 'delete'
          ? object
          : action === 'change'
            ? {}
            : null
        : options.previous,
  };
}

/** A person as Pipedrive's v2 API renders it. */
export function person(id: number, name: string, email: string, updateTime = '2026-01-05T10:00:00Z') {
  return {
    id,
    name,
    first_name: name.split(' ')[0],
    last_name: name.split(' ').slice(1).join(' ') || null,
    owner_id: 42,
    org_id: null,
    emails: [{ value: email, primary: true, label: 'work' }],
    phones: [],
    add_time: '2026-01-01T09:00:00Z',
    update_time: updateTime,
    is_deleted: false,
    visible_to: 3,
    label_ids: [],
    custom_fields: {},
  };
}

/** A delivery with `Authorization: Basic base64(credentials)` (none when `credentials` is null). */
export function delivery(payload: unknown, credentials: string | null, url = 'http://localhost/webhooks/pipedrive') {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (credentials !== null) headers.authorization = `Basic ${btoa(credentials)}`;
  return new Request(url, { method: 'POST', headers, body });
}
