/**
 * Turning an event to ingest into a row to store, in the caller's own step:
 * validation and serialization happen before the event joins a group-commit
 * batch, so a bad event fails its own call and never its neighbours'. And the
 * one rule for telling a bad event (400) from a failing store (503).
 */

import { InboxError, isInboxError } from './errors';
import type { IngestableEvent } from './inbox';
import type { NewInboxEvent } from './types';

const SOURCE = /^[A-Za-z0-9_.\-/]{1,100}$/;
const MAX_ID = 512;
const MAX_TYPE = 256;
const MAX_HEADERS = 64;

/** Throws `code` unless `source` is a usable source name. */
export function assertSource(api: string, source: unknown, code: 'invalid_event' | 'invalid_options'): string {
  if (typeof source !== 'string' || !SOURCE.test(source)) {
    throw new InboxError(
      api,
      code,
      `source must be 1 to 100 letters, digits or "_.-/", got ${JSON.stringify(source) ?? String(source)}`,
    );
  }
  return source;
}

function text(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max && !value.includes('\u0000');
}

const invalid = (message: string, cause?: unknown) =>
  new InboxError('ingest', 'invalid_event', message, cause === undefined ? {} : { cause });

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);

/** The event type: the event's own (a scheme may read it from a header), else `payload.type`, else `''`. */
function eventType(event: IngestableEvent, payload: Record<string, unknown>): string {
  if (event.type !== undefined) return event.type;
  const type = payload.type;
  return typeof type === 'string' ? type : '';
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function rawText(raw: IngestableEvent['rawBody']): string | null {
  if (raw === undefined) return null;
  let body: string;
  if (typeof raw === 'string') body = raw;
  else if (raw instanceof Uint8Array) {
    try {
      body = utf8.decode(raw);
    } catch (error) {
      throw invalid('the raw body is not UTF-8', error);
    }
  } else throw invalid('rawBody must be a string or a Uint8Array');
  if (body.includes('\u0000')) throw invalid('the raw body holds a NUL character, which the store cannot keep');
  return body;
}

function headerRecord(headers: IngestableEvent['headers']): Readonly<Record<string, string>> | null {
  if (headers === undefined) return null;
  if (typeof headers !== 'object' || headers === null) throw invalid('headers must be a record of strings');
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS || entries.some(([k, v]) => !text(k, 256) || !text(v, 8192))) {
    throw invalid(`headers must be at most ${MAX_HEADERS} string values without NUL characters`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * Validates and serializes an event. Throws `invalid_event` for an unusable
 * source, id or type, a payload that is not a JSON object or cannot be
 * serialized (a cycle, a BigInt, nesting too deep for `JSON.stringify`), or a
 * raw body that is not UTF-8.
 */
export function toNewEvent(source: string, event: IngestableEvent): NewInboxEvent {
  assertSource('ingest', source, 'invalid_event');
  if (typeof event !== 'object' || event === null) {
    throw invalid('the event must be an object with an id and a payload');
  }
  if (!text(event.id, MAX_ID) || event.id.length === 0) {
    throw invalid(`the event id must be a non-empty string of at most ${MAX_ID} characters`);
  }
  const { payload } = event;
  if (!isJsonObject(payload)) {
    const kind = payload === null ? 'null' : Array.isArray(payload) ? 'an array' : typeof payload;
    throw invalid(`the payload must be a JSON object, got ${kind}`);
  }
  const type = eventType(event, payload);
  if (!text(type, MAX_TYPE)) {
    throw invalid(`the event type must be a string of at most ${MAX_TYPE} characters`);
  }
  let payloadJson: string;
  try {
    payloadJson = JSON.stringify(payload);
  } catch (error) {
    throw invalid('the payload cannot be serialized as JSON', error);
  }
  return {
    source,
    id: event.id,
    type,
    payloadJson,
    rawBody: rawText(event.rawBody),
    headers: headerRecord(event.headers),
  };
}

/** The bytes an event holds while it waits to be written (UTF-16 length, close enough for a bound). */
export function eventBytes(event: NewInboxEvent): number {
  let bytes = event.payloadJson.length + (event.rawBody?.length ?? 0) + event.id.length + event.type.length;
  if (event.headers !== null) for (const [k, v] of Object.entries(event.headers)) bytes += k.length + v.length;
  return bytes;
}

/**
 * True for an error caused by the event's data, not by the store: an
 * `invalid_event` InboxError, or a database error whose SQLSTATE class is 22
 * (data exception), 23 (integrity constraint) or 54 (a program limit such as
 * a JSON value nested too deep). Nothing else: a driver's `TypeError('fetch
 * failed')` is the store being unreachable.
 */
export function isDataError(error: unknown): boolean {
  if (isInboxError(error)) return error.code === 'invalid_event';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/** The `InboxError` an ingest call rejects with: `invalid_event` for a data error, `store_unavailable` otherwise. */
export function storeError(error: unknown): InboxError {
  if (isInboxError(error)) return error;
  if (isDataError(error)) {
    return new InboxError('ingest', 'invalid_event', 'the store rejected the event', { cause: error });
  }
  return new InboxError('ingest', 'store_unavailable', 'the inbox store is unavailable', { cause: error });
}
