import { BallastError, errorGuard } from '../errors';

/**
 * Why a store-level call failed:
 * - `invalid_schema`: a schema name that is not a plain SQL identifier;
 * - `invalid_modules`: `migrate`'s `modules` is not an array of module names;
 * - `unknown_module`: a module name `migrate` does not know (a typo would otherwise migrate nothing);
 * - `transaction_closed`: a query through a transaction's executor after the transaction ended;
 * - `invalid_options`: a driver option of the wrong type (e.g. an `onError` that is not a function).
 */
export type StoreErrorCode =
  | 'invalid_schema'
  | 'invalid_modules'
  | 'unknown_module'
  | 'transaction_closed'
  | 'invalid_options';

/** An error of the SQL layer shared by every store (`@ballast/core/stores/*`). */
export class StoreError extends BallastError<StoreErrorCode> {
  override readonly name = 'StoreError';

  constructor(api: string, code: StoreErrorCode, message: string) {
    super(`@ballast/core] [${api}`, code, message);
  }
}

/** True for a {@link StoreError}, from any realm or copy of the package. */
export const isStoreError = errorGuard<StoreError>('StoreError');
