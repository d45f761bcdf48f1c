import { describe, expect, it } from 'vitest';
import { isMissingDependencyError, MissingDependencyError } from '../errors';
import { importOptional } from './optional';

const nodeEsmError = (specifier: string) =>
  Object.assign(
    new Error(`Cannot find package '${specifier}' imported from /app/node_modules/@ballast/core/dist/x.js`),
    {
      code: 'ERR_MODULE_NOT_FOUND',
    },
  );

describe('importOptional', () => {
  it('returns the module when it loads', async () => {
    await expect(importOptional('createPostgres', 'pg', async () => ({ Pool: 1 }))).resolves.toEqual({ Pool: 1 });
  });

  it('turns a missing package into a MissingDependencyError naming it and the install command', async () => {
    const cause = nodeEsmError('pg');
    const error = await importOptional('createPostgres', 'pg', () => Promise.reject(cause)).catch((e: unknown) => e);
    expect(isMissingDependencyError(error)).toBe(true);
    expect(error).toBeInstanceOf(MissingDependencyError);
    expect(error).toMatchObject({ code: 'missing_dependency', dependency: 'pg', install: 'npm install pg', cause });
    expect((error as Error).message).toBe(
      "[@ballast/core] [createPostgres] createPostgres needs the optional package 'pg', which is not installed: run `npm install pg` (or the same with your package manager)",
    );
  });

  it('recognises CommonJS and scoped-package messages', async () => {
    const cjs = Object.assign(new Error("Cannot find module '@electric-sql/pglite'\nRequire stack:\n- /app/x.cjs"), {
      code: 'MODULE_NOT_FOUND',
    });
    const error = await importOptional('createPGlite', '@electric-sql/pglite', () => Promise.reject(cjs)).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'missing_dependency', install: 'npm install @electric-sql/pglite' });
  });

  it('keeps the original error when an installed package misses one of its own dependencies', async () => {
    const inner = nodeEsmError('pg-pool');
    const error = await importOptional('createPostgres', 'pg', () => Promise.reject(inner)).catch((e: unknown) => e);
    expect(error).toBe(inner);
  });

  it('keeps any other load failure as it is', async () => {
    const syntax = new SyntaxError('Unexpected token');
    await expect(importOptional('createPostgres', 'pg', () => Promise.reject(syntax))).rejects.toBe(syntax);
  });

  it('recognises the error of a real import of a package that is not installed', async () => {
    const name = 'ballast-package-that-is-not-installed';
    const error = await importOptional('probe', name, () => import(/* @vite-ignore */ name)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'missing_dependency', dependency: name });
  });
});
