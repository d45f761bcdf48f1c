import { describe, expect, it } from 'vitest';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedriveOptions } from './index';

const TOKEN = { 'x-api-token': FAKE_PIPEDRIVE_API_TOKEN };
const API = 'https://api.pipedrive.com';

interface Page {
  success: boolean;
  data: Array<Record<string, unknown>>;
  additional_data: { next_cursor?: string | null; pagination?: Record<string, unknown> };
}

function clocked(options: FakePipedriveOptions = {}) {
  let now = Date.parse('2026-12-07T10:00:00Z');
  const fake = createFakePipedrive({ now: () => now, ...options });
  return {
    fake,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

async function get(
  fake: ReturnType<typeof createFakePipedrive>,
  path: string,
  headers: Record<string, string> = TOKEN,
) {
  const response = await fake.fetch(`${API}${path}`, { headers });
  return { response, body: (await response.json()) as Page };
}

describe('fake Pipedrive: records and pagination', () => {
  it('walks every person once with the v2 cursor (default 100, max 500, next_cursor null at the end)', async () => {
    const { fake } = clocked({ rateLimit: false });
    fake.seed({ person: 1234 });
    const seen: unknown[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const { body } = await get(fake, `/api/v2/persons?limit=500${q}`);
      seen.push(...body.data.map((p) => p.id));
      cursor = body.additional_data.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(1234);
    const first = await get(fake, '/api/v2/persons');
    expect(first.body.data).toHaveLength(100);
    const tooMany = await get(fake, '/api/v2/persons?limit=501');
    expect(tooMany.response.status).toBe(400);
    expect(tooMany.body).toMatchObject({ success: false, data: null });
  });

  it('is deterministic for a seed and keys custom fields by 40-char hashes under custom_fields', async () => {
    const a = createFakePipedrive({ seed: 7, now: () => 0, rateLimit: false });
    const b = createFakePipedrive({ seed: 7, now: () => 0, rateLimit: false });
    a.seed({ person: 5, organization: 2, deal: 3 });
    b.seed({ person: 5, organization: 2, deal: 3 });
    expect(a.records('person')).toEqual(b.records('person'));
    expect(a.records('deal')).toEqual(b.records('deal'));
    const key = a.customFields.person[0]?.key as string;
    expect(key).toMatch(/^[0-9a-f]{40}$/);
    expect(a.record('person', 3)?.custom_fields).toEqual({ [key]: 'ext-3' });
  });

  it('updated_since/updated_until with sort_by=update_time sees server-side edits; deleted leave v2 lists', async () => {
    const { fake, advance } = clocked({ rateLimit: false });
    fake.seed({ person: 20 });
    advance(3_600_000 * 2);
    const mark = new Date(Date.parse('2026-12-07T12:00:00Z')).toISOString().replace('.000Z', 'Z');
    advance(1000);
    fake.edit('person', 5, { name: 'Edited Five' });
    advance(1000);
    fake.edit('person', 2, { name: 'Edited Two' });
    const { body } = await get(fake, `/api/v2/persons?updated_since=${mark}&sort_by=update_time&sort_direction=asc`);
    expect(body.data.map((p) => p.id)).toEqual([5, 2]);
    const desc = await get(fake, `/api/v2/persons?updated_since=${mark}&sort_by=update_time&sort_direction=desc`);
    expect(desc.body.data.map((p) => p.id)).toEqual([2, 5]);
    const until = await get(fake, `/api/v2/persons?updated_until=${mark}`);
    expect(until.body.data.map((p) => p.id)).not.toContain(5);
    const ms = await get(fake, '/api/v2/persons?updated_since=2026-12-07T12:00:00.123Z');
    expect(ms.response.status).toBe(400);

    fake.remove('person', 5);
    const after = await get(fake, `/api/v2/persons?updated_since=${mark}`);
    expect(after.body.data.map((p) => p.id)).toEqual([2]);
    expect(fake.record('person', 5)?.is_deleted).toBe(true);
    const gone = await get(fake, '/api/v2/persons/5');
    expect(gone.response.status).toBe(404);
    const recents = await get(fake, '/v1/recents?since_timestamp=2026-12-07%2012:00:00&items=person');
    expect(recents.body.data.map((r) => [r.id, (r.data as { active_flag: boolean }).active_flag])).toEqual([
      [2, true],
      [5, false],
    ]);
  });

  it('CRUD on v2: POST, GET, PATCH (update_time advances), DELETE; 400 without a name, unknown custom key', async () => {
    const { fake, advance } = clocked({ rateLimit: false });
    const key = fake.customFields.person[0]?.key as string;
    const post = await fake.fetch(`${API}/api/v2/persons`, {
      method: 'POST',
      headers: { ...TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'Ada Lovelace',
        emails: [{ value: 'ada@x.io', primary: true }],
        custom_fields: { [key]: 'e-1' },
      }),
    });
    const created = ((await post.json()) as { data: Record<string, unknown> }).data;
    expect(created).toMatchObject({ id: 1, name: 'Ada Lovelace', first_name: 'Ada', custom_fields: { [key]: 'e-1' } });
    advance(5000);
    const patch = await fake.fetch(`${API}/api/v2/persons/1`, {
      method: 'PATCH',
      headers: { ...TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada King' }),
    });
    const patched = ((await patch.json()) as { data: Record<string, unknown> }).data;
    expect(Date.parse(patched.update_time as string) - Date.parse(created.update_time as string)).toBe(5000);
    const noName = await fake.fetch(`${API}/api/v2/organizations`, {
      method: 'POST',
      headers: { ...TOKEN, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(noName.status).toBe(400);
    const badKey = await fake.fetch(`${API}/api/v2/persons`, {
      method: 'POST',
      headers: { ...TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'X', custom_fields: { nope: 1 } }),
    });
    expect(badKey.status).toBe(400);
    const del = await fake.fetch(`${API}/api/v2/persons/1`, { method: 'DELETE', headers: TOKEN });
    expect(await del.json()).toEqual({ success: true, data: { id: 1 } });
  });

  it('answers on the company-domain base URLs too', async () => {
    const { fake } = clocked({ rateLimit: false, companyDomain: 'acme' });
    fake.seed({ deal: 2 });
    const v2 = await fake.fetch('https://acme.pipedrive.com/api/v2/deals', { headers: TOKEN });
    expect(((await v2.json()) as Page).data).toHaveLength(2);
    const v1 = await fake.fetch('https://acme.pipedrive.com/api/v1/users/me', { headers: TOKEN });
    expect(((await v1.json()) as { data: { company_domain: string } }).data.company_domain).toBe('acme');
  });

  it('v1 offset pagination: start, limit, more_items_in_collection, next_start', async () => {
    const { fake } = clocked({ rateLimit: false });
    fake.seed({ person: 7 });
    const first = await get(fake, '/v1/recents?since_timestamp=2000-01-01%2000:00:00&items=person&limit=5');
    expect(first.body.additional_data.pagination).toEqual({
      start: 0,
      limit: 5,
      more_items_in_collection: true,
      next_start: 5,
    });
    const second = await get(fake, '/v1/recents?since_timestamp=2000-01-01%2000:00:00&items=person&start=5&limit=5');
    expect(second.body.data).toHaveLength(2);
    expect(second.body.additional_data.pagination).toEqual({ start: 5, limit: 5, more_items_in_collection: false });
  });

  it('renameField changes payloads so a mapper sees the rename', async () => {
    const { fake } = clocked({ rateLimit: false });
    fake.seed({ person: 1 });
    fake.renameField('person', 'emails', 'email_addresses');
    const { body } = await get(fake, '/api/v2/persons/1');
    expect(body.data).toHaveProperty('email_addresses');
    expect(body.data).not.toHaveProperty('emails');
  });
});

describe('fake Pipedrive: auth', () => {
  it('401 with the error envelope for a bad or missing token; the query token only when enabled', async () => {
    const { fake } = clocked();
    for (const headers of [{ 'x-api-token': 'wrong' }, {}]) {
      const { response, body } = await get(fake, '/api/v2/persons', headers);
      expect(response.status).toBe(401);
      expect(body).toMatchObject({ success: false, data: null, additional_data: null });
      expect(typeof (body as unknown as { error: string }).error).toBe('string');
    }
    const query = await get(fake, `/api/v2/persons?api_token=${FAKE_PIPEDRIVE_API_TOKEN}`, {});
    expect(query.response.status).toBe(401);
    const lenient = createFakePipedrive({ acceptQueryToken: true });
    const ok = await get(lenient, `/api/v2/persons?api_token=${FAKE_PIPEDRIVE_API_TOKEN}`, {});
    expect(ok.response.status).toBe(200);
  });

  it('OAuth: Bearer works until expiry; the refresh grant issues new tokens and retires the old refresh token', async () => {
    const { fake, advance } = clocked({ oauth: { accessTokenTtlMs: 60_000 } });
    const tokens = fake.issueOAuthTokens();
    const bearer = { authorization: `Bearer ${tokens.access_token}` };
    expect((await get(fake, '/api/v2/persons', bearer)).response.status).toBe(200);
    advance(60_000);
    expect((await get(fake, '/api/v2/persons', bearer)).response.status).toBe(401);
    const refresh = (refreshToken: string, secret = 'fake-client-secret') =>
      fake.fetch('https://oauth.pipedrive.com/oauth/token', {
        method: 'POST',
        headers: {
          authorization: `Basic ${btoa(`fake-client-id:${secret}`)}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
      });
    const res = await refresh(tokens.refresh_token);
    const next = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
    expect(res.status).toBe(200);
    expect(next.expires_in).toBe(60);
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect((await get(fake, '/api/v2/persons', { authorization: `Bearer ${next.access_token}` })).response.status).toBe(
      200,
    );
    expect((await refresh(tokens.refresh_token)).status).toBe(400);
    expect((await refresh(next.refresh_token, 'wrong')).status).toBe(401);
  });

  it('search: persons, organizations and deals, exact and partial, 400 for a short term or unknown field, and the index lag', async () => {
    const { fake, advance } = clocked({ rateLimit: false, searchLagMs: 5000 });
    const key = fake.customFields.person[0]?.key as string;
    fake.create(
      'person',
      { name: 'Ada Lovelace', emails: [{ value: 'ada@example.com', primary: true }] },
      { custom: { [key]: 'x-1' } },
    );
    fake.create('organization', { name: 'Analytical Engines' });
    fake.create('deal', { title: 'Engine No. 2', org_id: 1 });
    const search = async (path: string) => {
      const { response, body } = await get(fake, path);
      return {
        status: response.status,
        ids: (body.data as unknown as { items?: Array<{ item: { id: number; type: string } }> } | null)?.items?.map(
          (i) => `${i.item.type}:${i.item.id}`,
        ),
      };
    };
    expect((await search('/api/v2/persons/search?term=ada')).ids).toEqual([]); // not indexed yet
    advance(5010);
    expect((await search('/api/v2/persons/search?term=ada')).ids).toEqual(['person:1']);
    expect((await search('/api/v2/persons/search?term=x-1&fields=custom_fields&exact_match=true')).ids).toEqual([
      'person:1',
    ]);
    expect((await search('/api/v2/persons/search?term=x-&fields=custom_fields&exact_match=true')).ids).toEqual([]);
    expect((await search('/api/v2/persons/search?term=example.com&fields=email')).ids).toEqual(['person:1']);
    expect((await search('/api/v2/persons/search?term=example.com&fields=name')).ids).toEqual([]);
    expect((await search('/api/v2/organizations/search?term=engines')).ids).toEqual(['organization:1']);
    expect((await search('/api/v2/deals/search?term=engine&organization_id=1')).ids).toEqual(['deal:1']);
    expect((await search('/api/v2/persons/search?term=a')).status).toBe(400);
    expect((await search('/api/v2/persons/search?term=a&exact_match=true')).status).toBe(200);
    expect((await search('/api/v2/deals/search?term=ab&fields=email')).status).toBe(400);
  });
});
