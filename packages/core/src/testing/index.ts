/**
 * `@ballast/core/testing`: helpers for tests and for the provider fakes of the
 * other Ballast packages. `serveFetch` puts a fetch-style handler
 * (`(request: Request) => Promise<Response>`) on a real local HTTP server, so
 * that clients and SDKs that insist on a URL can talk to it over sockets.
 * Node only (it loads `node:http` when called, not when imported).
 */

export type { TestingErrorCode } from './errors';
export { isTestingError, TestingError } from './errors';
export type { FetchHandler, FetchServer, ServeFetchOptions } from './serve-fetch';
export { serveFetch } from './serve-fetch';
