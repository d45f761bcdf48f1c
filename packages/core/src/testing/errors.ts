import { BallastError, type BallastErrorOptions, errorGuard } from '../errors';

/**
 * Why a call of `@ballast/core/testing` failed:
 * - `invalid_options`: an argument of the wrong type or range (a handler that is not a function, a port outside 0-65535);
 * - `listen_failed`: the server could not listen on its port (taken by another process, say); `cause` is Node's error;
 * - `closed`: `resume()` on a server that was closed for good.
 */
export type TestingErrorCode = 'invalid_options' | 'listen_failed' | 'closed';

/** An error of the test helpers in `@ballast/core/testing`. */
export class TestingError extends BallastError<TestingErrorCode> {
  override readonly name = 'TestingError';

  constructor(api: string, code: TestingErrorCode, message: string, options: BallastErrorOptions = {}) {
    super(`@ballast/core] [${api}`, code, message, options);
  }
}

/** True for a {@link TestingError}, from any realm or copy of the package. */
export const isTestingError = errorGuard<TestingError>('TestingError');
