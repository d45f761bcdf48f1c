/**
 * `@ballast/core` root entry: only the error model lives here, so importing it
 * costs nothing. Every capability has its own subpath export
 * (`@ballast/core/webhooks`, `@ballast/core/resilience`, ...).
 */

export type { BallastErrorOptions } from './errors';
export { BallastError, isBallastError, isMissingDependencyError, MissingDependencyError } from './errors';
