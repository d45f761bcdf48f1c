import type { RequestHandler } from 'msw';
import type { FakePipedrive } from './fake-pipedrive';

/** Options for {@link pipedriveMswHandlers}. */
export interface PipedriveMswOptions {
  /**
   * Company subdomains to intercept besides `api.pipedrive.com` and the
   * fake's own `companyDomain` (`https://{domain}.pipedrive.com/api/v1|v2`).
   * @default []
   */
  companyDomains?: readonly string[];
}

/**
 * msw request handlers that answer Pipedrive API calls from a fake Pipedrive:
 * `https://api.pipedrive.com/v1/*` and `/api/v2/*`, the company-domain forms
 * `https://{companyDomain}.pipedrive.com/api/v1|v2/*`, and the OAuth token
 * endpoint `https://oauth.pipedrive.com/oauth/token`. msw is loaded when this
 * is called; this entry (`@ballast/pipedrive/testing/msw`) is the only one
 * whose types name msw, an optional peer.
 *
 * @example
 * ```ts
 * const fake = createFakePipedrive();
 * const server = setupServer(...(await pipedriveMswHandlers(fake)));
 * server.listen({ onUnhandledFrame: 'error' });
 * ```
 */
export async function pipedriveMswHandlers(
  fake: FakePipedrive,
  options: PipedriveMswOptions = {},
): Promise<RequestHandler[]> {
  const { http } = await import('msw');
  const answer = ({ request }: { request: Request }) => fake.handle(request);
  const handlers: RequestHandler[] = [
    http.all('https://api.pipedrive.com/v1/*', answer),
    http.all('https://api.pipedrive.com/api/v1/*', answer),
    http.all('https://api.pipedrive.com/api/v2/*', answer),
    http.all('https://oauth.pipedrive.com/oauth/token', answer),
  ];
  for (const domain of new Set([fake.companyDomain, ...(options.companyDomains ?? [])])) {
    handlers.push(
      http.all(`https://${domain}.pipedrive.com/api/v1/*`, answer),
      http.all(`https://${domain}.pipedrive.com/api/v2/*`, answer),
    );
  }
  return handlers;
}
