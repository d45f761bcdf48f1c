import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BallastError, errorGuard, isBallastError } from './errors';

class ExampleError extends BallastError<'bad' | 'worse'> {
  override readonly name = 'ExampleError';
  constructor(
    code: 'bad' | 'worse',
    readonly detail: string,
  ) {
    super('@ballast/core] [example', code, `something was ${code}`);
  }
}

describe('BallastError', () => {
  it('carries a code, a scoped message and the cause', () => {
    const cause = new Error('root');
    const error = new BallastError('@ballast/core] [thing', 'oops', 'it broke', { cause });
    expect(error.code).toBe('oops');
    expect(error.message).toBe('[@ballast/core] [thing] it broke');
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
  });

  it('is recognized by isBallastError and not confused with plain errors', () => {
    expect(isBallastError(new ExampleError('bad', 'x'))).toBe(true);
    expect(isBallastError(new Error('plain'))).toBe(false);
    expect(isBallastError({ code: 'bad' })).toBe(false);
    expect(isBallastError(null)).toBe(false);
  });

  it('guards work across realms, where instanceof does not', () => {
    const brand = Symbol.for('@ballast/error');
    const foreign = runInNewContext('const e = new Error("x"); e.name = "ExampleError"; e[brand] = true; e', { brand });
    expect(foreign instanceof Error).toBe(false);
    expect(isBallastError(foreign)).toBe(true);
    const isExample = errorGuard<ExampleError>('ExampleError');
    expect(isExample(foreign)).toBe(true);
    expect(isExample(new BallastError('s', 'c', 'm'))).toBe(false);
  });
});
