import type { AddressInfo } from 'node:net';
import { signWebhook, type VerifiedWebhook } from '@ballast/core/webhooks';
import { createWebhookApp, type WebhookAppAnswer } from '../../webhooks/app';
import type { Scenario } from '../run';

/**
 * A local sender posts genuine, duplicated, forged, tampered, replayed and oversized deliveries to
 * the example endpoint (examples/webhooks) on 127.0.0.1; each outcome is checked.
 */
const stripeSecret = 'whsec_demo_endpoint_secret';
const standardSecret = `whsec_${Buffer.alloc(32, 42).toString('base64')}`;
const attackerSecret = 'whsec_guessed_by_an_attacker';

interface Delivery {
  delivery: string;
  route: 'stripe' | 'standard';
  body: string;
  headers: Record<string, string>;
  expect: { status: number; answer: WebhookAppAnswer['status']; code?: string };
}

const scenario: Scenario = {
  title: 'Webhooks: verified at the door (genuine, duplicated, forged, tampered, replayed, oversized)',
  async run(report) {
    const clock = { ms: Date.now() };
    const processed: VerifiedWebhook[] = [];
    const server = createWebhookApp({
      stripeSecret,
      standardSecret,
      maxBodyBytes: 64 * 1024,
      now: () => clock.ms,
      onEvent: (event) => processed.push(event),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    report.line(`example endpoint on ${base} (node:http, examples/webhooks/app.ts), 64 KiB body limit`);

    try {
      const now = () => clock.ms;
      const paid = JSON.stringify({
        id: 'evt_demo_paid',
        object: 'event',
        type: 'invoice.paid',
        data: { object: { amount_paid: 4900 } },
      });
      const genuine = await signWebhook({ scheme: 'stripe', secret: stripeSecret, body: paid, now });
      const forged = await signWebhook({
        scheme: 'stripe',
        secret: attackerSecret,
        body: paid.replace('evt_demo_paid', 'evt_demo_forged'),
        now,
      });
      const refund = JSON.stringify({
        id: 'evt_demo_refund',
        object: 'event',
        type: 'charge.refunded',
        data: { object: { amount_refunded: 4900 } },
      });
      const refundSigned = await signWebhook({ scheme: 'stripe', secret: stripeSecret, body: refund, now });
      const contact = JSON.stringify({ type: 'contact.created', data: { id: 'ct_1', email: 'jane@example.com' } });
      const standard = await signWebhook({
        scheme: 'standard',
        secret: standardSecret,
        body: contact,
        id: 'msg_demo_1',
        now,
      });
      const huge = JSON.stringify({
        id: 'evt_demo_huge',
        object: 'event',
        data: { blob: 'x'.repeat(2 * 1024 * 1024) },
      });
      const hugeSigned = await signWebhook({ scheme: 'stripe', secret: stripeSecret, body: huge, now });

      const now0: Delivery[] = [
        {
          delivery: 'genuine Stripe invoice.paid',
          route: 'stripe',
          body: paid,
          headers: genuine.headers,
          expect: { status: 200, answer: 'accepted' },
        },
        {
          delivery: 'the same delivery again (Stripe retried)',
          route: 'stripe',
          body: paid,
          headers: genuine.headers,
          expect: { status: 200, answer: 'duplicate' },
        },
        {
          delivery: 'forged: signed with a guessed secret',
          route: 'stripe',
          body: forged.body as string,
          headers: forged.headers,
          expect: { status: 401, answer: 'rejected', code: 'no_matching_signature' },
        },
        {
          delivery: 'tampered: amount changed in transit',
          route: 'stripe',
          body: refund.replace('4900', '9900'),
          headers: refundSigned.headers,
          expect: { status: 401, answer: 'rejected', code: 'no_matching_signature' },
        },
        {
          delivery: 'unsigned: no Stripe-Signature header',
          route: 'stripe',
          body: refund,
          headers: { 'content-type': 'application/json' },
          expect: { status: 400, answer: 'rejected', code: 'missing_header' },
        },
        {
          delivery: 'genuine Standard Webhooks contact.created',
          route: 'standard',
          body: contact,
          headers: standard.headers,
          expect: { status: 200, answer: 'accepted' },
        },
        {
          delivery: 'oversized: 2 MiB body, genuinely signed',
          route: 'stripe',
          body: huge,
          headers: hugeSigned.headers,
          expect: { status: 413, answer: 'rejected', code: 'body_too_large' },
        },
      ];
      const later: Delivery[] = [
        {
          delivery: 'replayed: the refund captured 10 minutes ago',
          route: 'stripe',
          body: refund,
          headers: refundSigned.headers,
          expect: { status: 401, answer: 'rejected', code: 'timestamp_too_old' },
        },
        {
          delivery: 'replayed: the contact.created 10 minutes ago',
          route: 'standard',
          body: contact,
          headers: standard.headers,
          expect: { status: 401, answer: 'rejected', code: 'timestamp_too_old' },
        },
      ];

      const rows: Array<Record<string, string | number>> = [];
      const send = async (d: Delivery) => {
        const started = performance.now();
        const response = await fetch(`${base}/webhooks/${d.route}`, {
          method: 'POST',
          body: d.body,
          headers: d.headers,
        });
        const answer = (await response.json()) as WebhookAppAnswer;
        const outcome =
          answer.status === 'rejected' ? `${answer.status} (${answer.code})` : `${answer.status} ${answer.id}`;
        rows.push({
          '#': rows.length + 1,
          delivery: d.delivery,
          bytes: Buffer.byteLength(d.body),
          http: response.status,
          outcome,
          ms: (performance.now() - started).toFixed(1),
        });
        const held =
          response.status === d.expect.status &&
          answer.status === d.expect.answer &&
          (d.expect.code === undefined || (answer.status === 'rejected' && answer.code === d.expect.code));
        return { held, outcome, status: response.status };
      };

      const results: Array<[Delivery, Awaited<ReturnType<typeof send>>]> = [];
      for (const d of now0) results.push([d, await send(d)]);
      clock.ms += 10 * 60 * 1000; // the endpoint's clock moves on: the default tolerance is 300 s
      for (const d of later) results.push([d, await send(d)]);

      report.table(rows);
      for (const [d, r] of results) {
        const expected = `${d.expect.status} ${d.expect.answer}${d.expect.code ? ` (${d.expect.code})` : ''}`;
        if (r.held) report.ok(`${d.delivery}: ${expected}`);
        else report.fail(`${d.delivery}: expected ${expected}, got ${r.status} ${r.outcome}`);
      }

      const ids = processed.map((e) => `${e.scheme}:${e.id}`);
      const expectedIds = ['stripe:evt_demo_paid', 'standard:msg_demo_1'];
      if (JSON.stringify(ids) === JSON.stringify(expectedIds)) {
        report.ok(`business logic ran exactly once per genuine event (${ids.join(', ')}), never for the rest`);
      } else {
        report.fail(`business logic ran for ${JSON.stringify(ids)}, expected ${JSON.stringify(expectedIds)}`);
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
};

export default scenario;
