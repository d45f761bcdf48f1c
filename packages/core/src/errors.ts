/**
 * The error model shared by every Ballast package.
 *
 * Each module defines a subclass with its own `code` union and context fields.
 * Guards work across realms (two copies of the package, a worker, a VM
 * context) because they check a brand symbol registered with `Symbol.for`,
 * not `instanceof`.
 */

const BRAND = Symbol.for('@ballast/error');

/** Options accepted by every Ballast error constructor. */
export interface BallastErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error Ballast throws on purpose.
 *
 * `code` is a stable, documented string union per subclass: branch on it, not
 * on the message text. Messages start with the package and the API that threw,
 * e.g. `[@ballast/core] [verifyWebhook] ...`.
 */
export class BallastError<Code extends string = string> extends Error {
  /** Machine-readable reason, from the subclass's documented union. */
  readonly code: Code;
  /** @internal brand for cross-realm guards */
  readonly [BRAND] = true;

  constructor(scope: string, code: Code, message: string, options: BallastErrorOptions = {}) {
    super(`[${scope}] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** True for any error thrown by a Ballast package, from any realm or copy of the package. */
export function isBallastError(value: unknown): value is BallastError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * Builds a cross-realm guard for one error subclass, keyed on its `name`.
 * @internal
 */
export function errorGuard<T extends BallastError>(name: string): (value: unknown) => value is T {
  return (value: unknown): value is T => isBallastError(value) && value.name === name;
}

/**
 * An optional peer dependency that an entry needs is not installed. `code` is
 * always `missing_dependency`; `dependency` names the package and `install`
 * the command that adds it.
 */
export class MissingDependencyError extends BallastError<'missing_dependency'> {
  override readonly name = 'MissingDependencyError';
  /** The package that could not be loaded, e.g. `pg`. */
  readonly dependency: string;
  /** The command that installs it, e.g. `npm install pg`. */
  readonly install: string;

  constructor(api: string, dependency: string, options: BallastErrorOptions = {}) {
    const install = `npm install ${dependency}`;
    super(
      `@ballast/core] [${api}`,
      'missing_dependency',
      `${api} needs the optional package '${dependency}', which is not installed: run \`${install}\` (or the same with your package manager)`,
      options,
    );
    this.dependency = dependency;
    this.install = install;
  }
}

/** True for a {@link MissingDependencyError}, from any realm or copy of the package. */
export const isMissingDependencyError = errorGuard<MissingDependencyError>('MissingDependencyError');
