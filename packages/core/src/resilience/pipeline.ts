/**
 * The per-call context `resilientFetch` hands down its layers, and the
 * composition of named layers. Not exported from the package.
 * @internal
 */
import type { ResponseVerdict } from './classify';
import { redactUrl } from './internal';
import type { ResilienceEvent, ResilienceEventHandler } from './types';

let lastCallId = 0;

/**
 * One call as it travels down the layers. Created once per call; the retry
 * layer updates `attempt`, `input` and `init` between attempts, the breaker
 * layer sets `probeUntil`, the classification sets `verdict`.
 */
export class Call {
  /** Unique within the process, for events. */
  readonly id = ++lastCallId;
  attempt = 1;
  verdict: ResponseVerdict | undefined = undefined;
  /** A half-open probe must settle by then (limiter wait included); Infinity otherwise. */
  probeUntil = Number.POSITIVE_INFINITY;
  /** Set by `afterResponse` returning 'retry': the next attempt follows at once. */
  retryNow = false;
  /** The decorated event handler of this call, or undefined when nobody listens. */
  readonly emit: ResilienceEventHandler | undefined;

  constructor(
    public input: string | URL | Request,
    public init: RequestInit | undefined,
    readonly url: string,
    readonly method: string,
    readonly key: string,
    readonly signal: AbortSignal | undefined,
    /** Epoch ms when the call's deadline passes; Infinity for none. */
    readonly deadlineAt: number,
    /** The per-attempt timeout in ms; Infinity for none. */
    readonly timeoutMs: number,
    /** Attempts in all for this call, when it overrides the policy's. */
    readonly attempts: number | undefined,
    /** What the caller asked events of this call to carry. */
    readonly context: unknown,
    onEvent: ResilienceEventHandler | undefined,
  ) {
    this.emit = onEvent === undefined ? undefined : (event) => onEvent(this.describe(event));
  }

  /** The group key, as the cache layer names it. */
  get group(): string {
    return this.key;
  }

  /** Whether the last response was judged a failure (the cache never stores those); undefined before any. */
  failed(): boolean | undefined {
    return this.verdict === undefined ? undefined : this.verdict !== 'success';
  }

  /** An event with what identifies this call: id, method, URL without secrets, attempt, caller context. */
  describe(event: ResilienceEvent): ResilienceEvent {
    const described: ResilienceEvent = {
      ...event,
      callId: `call-${this.id}`,
      method: this.method,
      url: redactUrl(this.url),
      attempt: event.attempt ?? this.attempt,
    };
    if (this.context !== undefined) described.context = this.context;
    return described;
  }
}

/** The rest of the pipeline below a layer. */
export type Next = (call: Call) => Promise<Response>;

/** One named step of the pipeline: does its part and calls `next` (or not). */
export interface Layer {
  readonly name: string;
  run(call: Call, next: Next): Promise<Response>;
}

/**
 * Chains `layers`, given top-down (the first sees the call first), over
 * `last`. The chain is built once per `resilientFetch`; a call allocates no
 * closures to pass through it.
 */
export function compose(layers: readonly Layer[], last: Next): Next {
  let next = last;
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i] as Layer;
    const below = next;
    next = (call) => layer.run(call, below);
  }
  return next;
}
