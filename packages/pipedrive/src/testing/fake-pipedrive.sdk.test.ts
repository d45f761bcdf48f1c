import { setupServer } from 'msw/node';
import { v1, v2 } from 'pipedrive';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedrive, type FakePipedriveServer } from './index';
import { pipedriveMswHandlers } from './msw';

/**
 * The official `pipedrive` SDK (v33) pointed at the fake: every endpoint the
 * fake implements must work through it, which is how we know the fake speaks
 * Pipedrive's protocol (paths, headers, bodies, envelopes, errors). The SDK
 * rejects with the response body for HTTP errors (its error interceptor).
 */
describe('the official pipedrive SDK against the fake server', () => {
  let fake: FakePipedrive;
  let server: FakePipedriveServer;
  let config2: v2.Configuration;
  let config1: v1.Configuration;

  beforeAll(async () => {
    fake = createFakePipedrive({ rateLimit: false });
    server = await fake.listen();
    config2 = new v2.Configuration({ apiKey: FAKE_PIPEDRIVE_API_TOKEN, basePath: `${server.url}/api/v2` });
    config1 = new v1.Configuration({ apiKey: FAKE_PIPEDRIVE_API_TOKEN, basePath: `${server.url}/v1` });
  });
  afterAll(() => server.close());

  it('persons: add, get, update, list with cursor, search (exact and partial), delete', async () => {
    const persons = new v2.PersonsApi(config2);
    const key = fake.customFields.person[0]?.key as string;
    const added = await persons.addPerson({
      AddPersonRequest: {
        name: 'Grace Hopper',
        emails: [{ value: 'grace@navy.example', primary: true, label: 'work' }],
        custom_fields: { [key]: 'ext-grace' },
      },
    });
    expect(added.success).toBe(true);
    const id = added.data?.id as number;
    expect(added.data).toMatchObject({ name: 'Grace Hopper', custom_fields: { [key]: 'ext-grace' } });
    const got = await persons.getPerson({ id });
    expect(got.data?.emails?.[0]?.value).toBe('grace@navy.example');
    const updated = await persons.updatePerson({ id, UpdatePersonRequest: { name: 'Grace B. Hopper' } });
    expect(updated.data?.name).toBe('Grace B. Hopper');

    fake.seed({ person: 120 });
    const ids: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await persons.getPersons({ limit: 50, sort_by: 'update_time', ...(cursor ? { cursor } : {}) });
      ids.push(...(page.data ?? []).map((p) => p.id as number));
      cursor = page.additional_data?.next_cursor ?? undefined;
    } while (cursor);
    expect(new Set(ids).size).toBe(121);

    const exact = await persons.searchPersons({ term: 'ext-grace', fields: 'custom_fields', exact_match: true });
    expect(exact.data?.items?.map((i) => i.item?.id)).toEqual([id]);
    const partial = await persons.searchPersons({ term: 'navy', fields: 'email' });
    expect(partial.data?.items?.map((i) => i.item?.id)).toEqual([id]);

    const deleted = await persons.deletePerson({ id });
    expect(deleted.data?.id).toBe(id);
    await expect(persons.getPerson({ id })).rejects.toMatchObject({ success: false, errorCode: 404 });
  });

  it('organizations, deals, activities and products: add, get, update, list, delete', async () => {
    const orgs = new v2.OrganizationsApi(config2);
    const org = await orgs.addOrganization({ AddOrganizationRequest: { name: 'Analytical Engines Ltd' } });
    const orgId = org.data?.id as number;
    expect((await orgs.getOrganization({ id: orgId })).data?.name).toBe('Analytical Engines Ltd');
    await orgs.updateOrganization({ id: orgId, UpdateOrganizationRequest: { name: 'AE Ltd' } });
    expect((await orgs.getOrganizations({ limit: 500 })).data?.some((o) => o.name === 'AE Ltd')).toBe(true);

    const deals = new v2.DealsApi(config2);
    const deal = await deals.addDeal({ AddDealRequest: { title: 'Difference engine', value: 1000, org_id: orgId } });
    const dealId = deal.data?.id as number;
    expect(deal.data).toMatchObject({ title: 'Difference engine', value: 1000, org_id: orgId });
    await deals.updateDeal({ id: dealId, UpdateDealRequest: { value: 2000 } });
    expect((await deals.getDeal({ id: dealId })).data?.value).toBe(2000);
    const foundOrg = await orgs.searchOrganization({ term: 'AE Ltd', fields: 'name', exact_match: true });
    expect(foundOrg.data?.items?.map((i) => i.item?.id)).toEqual([orgId]);
    const foundDeal = await deals.searchDeals({ term: 'difference', organization_id: orgId });
    expect(foundDeal.data?.items?.map((i) => i.item?.id)).toEqual([dealId]);
    const byOrg = await deals.getDeals({ org_id: orgId });
    expect(byOrg.data?.map((d) => d.id)).toEqual([dealId]);
    expect((await deals.deleteDeal({ id: dealId })).success).toBe(true);

    const activities = new v2.ActivitiesApi(config2);
    const activity = await activities.addActivity({ AddActivityRequest: { subject: 'Call Ada', deal_id: dealId } });
    const activityId = activity.data?.id as number;
    expect((await activities.getActivity({ id: activityId })).data?.subject).toBe('Call Ada');
    await activities.updateActivity({ id: activityId, AddActivityRequest: { done: true } });
    expect((await activities.getActivities({})).data?.[0]?.done).toBe(true);
    await activities.deleteActivity({ id: activityId });

    const products = new v2.ProductsApi(config2);
    const product = await products.addProduct({ AddProductRequest: { name: 'Punch cards', code: 'PC-1' } });
    const productId = product.data?.id as number;
    await products.updateProduct({ id: productId, UpdateProductRequest: { name: 'Punch cards (100)' } });
    expect((await products.getProduct({ id: productId })).data?.name).toBe('Punch cards (100)');
    expect((await products.getProducts({})).data?.map((p) => p.id)).toContain(productId);
    await products.deleteProduct({ id: productId });
    await expect(products.getProduct({ id: productId })).rejects.toMatchObject({ success: false });
  });

  it('v1: webhooks (add, list, delete), recents with offset paging, users, person fields', async () => {
    const webhooks = new v1.WebhooksApi(config1);
    const created = await webhooks.addWebhook({
      AddWebhookRequest: {
        subscription_url: 'https://app.example.com/hooks',
        event_action: 'change',
        event_object: 'person',
        name: 'sync',
        http_auth_user: 'u',
        http_auth_password: 'p',
        version: '2.0',
      },
    });
    expect(created.data).toMatchObject({ event_action: 'change', version: '2.0', http_auth_user: 'u' });
    expect((await webhooks.getWebhooks()).data?.map((w) => w.id)).toContain(created.data?.id);
    await webhooks.deleteWebhook({ id: created.data?.id as number });
    expect((await webhooks.getWebhooks()).data?.map((w) => w.id)).not.toContain(created.data?.id);

    const recents = new v1.RecentsApi(config1);
    const first = await recents.getRecents({ since_timestamp: '2000-01-01 00:00:00', items: 'person', limit: 100 });
    expect(first.data).toHaveLength(100);
    expect(first.additional_data?.pagination).toMatchObject({
      start: 0,
      more_items_in_collection: true,
      next_start: 100,
    });

    const users = new v1.UsersApi(config1);
    expect((await users.getCurrentUser()).data?.company_domain).toBe('fake-company');
    expect((await users.getUsers()).data).toHaveLength(1);

    const fields = await new v1.PersonFieldsApi(config1).getPersonFields({ start: 0, limit: 500 });
    expect(fields.data?.some((f) => f.key === fake.customFields.person[0]?.key)).toBe(true);
  });

  it('errors reach the SDK as Pipedrive bodies: 401 bad token, 400 bad input, 404', async () => {
    const bad = new v2.PersonsApi(new v2.Configuration({ apiKey: 'nope', basePath: `${server.url}/api/v2` }));
    await expect(bad.getPersons({})).rejects.toMatchObject({ success: false, errorCode: 401 });
    const persons = new v2.PersonsApi(config2);
    await expect(persons.getPersons({ limit: 501 })).rejects.toMatchObject({ success: false, errorCode: 400 });
    await expect(persons.getPerson({ id: 99_999 })).rejects.toMatchObject({ error: 'Person not found' });
  });
});

describe('the official pipedrive SDK: 429, ban and OAuth', () => {
  it('429 with the Pipedrive body; after more sends the 403 HTML ban page', async () => {
    const fake = createFakePipedrive({ ban: { strikes: 2, durationMs: 60_000 } });
    const server = await fake.listen();
    try {
      const persons = new v2.PersonsApi(
        new v2.Configuration({ apiKey: FAKE_PIPEDRIVE_API_TOKEN, basePath: `${server.url}/api/v2` }),
      );
      for (let i = 0; i < 20; i++) await persons.getPersons({});
      await expect(persons.getPersons({})).rejects.toMatchObject({ success: false, errorCode: 429 });
      await expect(persons.getPersons({})).rejects.toMatchObject({ errorCode: 429 });
      await expect(persons.getPersons({})).rejects.toMatchObject({ errorCode: 429 });
      const page = await persons.getPersons({}).then(
        () => '',
        (error: unknown) => String(error),
      );
      expect(page).toContain('Access denied');
      expect(fake.stats()).toMatchObject({ rateLimited: 3, bans: 1, banned: 1 });
    } finally {
      await server.close();
    }
  });

  it('OAuth2Configuration: authorize a code, call with Bearer, refresh an expired token on the token endpoint', async () => {
    const fake = createFakePipedrive();
    const server = await fake.listen();
    try {
      const oauth2 = new v2.OAuth2Configuration({
        clientId: 'fake-client-id',
        clientSecret: 'fake-client-secret',
        redirectUri: 'https://app.example.com/callback',
        host: server.url,
      });
      const token = await oauth2.authorize(fake.authorizationCode());
      expect(token.api_domain).toBe(server.url);
      const config = new v2.Configuration({ accessToken: oauth2.getAccessToken, basePath: oauth2.basePath });
      const deals = new v2.DealsApi(config);
      expect((await deals.getDeals({})).success).toBe(true);
      fake.expireAccessTokens();
      await expect(deals.getDeals({})).rejects.toMatchObject({ errorCode: 401 });
      oauth2.updateToken({ ...token, expires_in: -1 }); // the SDK now sees the token as expired
      expect((await deals.getDeals({})).success).toBe(true);
      expect(fake.requests.filter((r) => r.endpoint === 'POST /oauth/token')).toHaveLength(2);
      expect(Object.keys(fake.stats().byToken)).toEqual(['oauth:1']);
    } finally {
      await server.close();
    }
  });
});

describe('the official pipedrive SDK through msw handlers (both base URL forms)', () => {
  const fake = createFakePipedrive({ rateLimit: false, companyDomain: 'acme' });
  const msw = setupServer();

  beforeAll(async () => {
    msw.use(...(await pipedriveMswHandlers(fake)));
    msw.listen({ onUnhandledFrame: 'error' });
  });
  afterAll(() => msw.close());

  it('answers api.pipedrive.com and acme.pipedrive.com, v1 and v2, and the OAuth host', async () => {
    fake.seed({ person: 3 });
    const defaultBase = new v2.PersonsApi(new v2.Configuration({ apiKey: FAKE_PIPEDRIVE_API_TOKEN }));
    expect((await defaultBase.getPersons({})).data).toHaveLength(3);
    const company = new v2.PersonsApi(
      new v2.Configuration({ apiKey: FAKE_PIPEDRIVE_API_TOKEN, basePath: 'https://acme.pipedrive.com/api/v2' }),
    );
    expect((await company.getPerson({ id: 2 })).data?.id).toBe(2);
    const users = new v1.UsersApi(
      new v1.Configuration({ apiKey: FAKE_PIPEDRIVE_API_TOKEN, basePath: 'https://acme.pipedrive.com/api/v1' }),
    );
    expect((await users.getCurrentUser()).data?.company_domain).toBe('acme');
    const oauth2 = new v2.OAuth2Configuration({
      clientId: 'fake-client-id',
      clientSecret: 'fake-client-secret',
      redirectUri: 'https://app.example.com/callback',
    });
    oauth2.updateToken(fake.issueOAuthTokens());
    const refreshed = await oauth2.tokenRefresh();
    expect(refreshed.api_domain).toBe('https://acme.pipedrive.com');
    const deals = new v2.DealsApi(
      new v2.Configuration({ accessToken: refreshed.access_token, basePath: oauth2.basePath }),
    );
    expect((await deals.getDeals({})).success).toBe(true);
  });
});
