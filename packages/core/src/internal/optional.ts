import { MissingDependencyError } from '../errors';

/** Error codes runtimes use when a module cannot be found (Node ESM, Node CJS, bundlers' shims). */
const NOT_FOUND_CODES = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']);

function isNotFound(error: unknown, dependency: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const notFound =
    (typeof code === 'string' && NOT_FOUND_CODES.has(code)) ||
    /cannot find (module|package)|could not find|not found in import map|unable to resolve/i.test(error.message);
  // only the dependency itself: a package that is installed but misses one of
  // its own dependencies is a different problem and keeps its own error
  return (
    notFound && new RegExp(`['"\`]${dependency.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}['"\`/]`).test(error.message)
  );
}

/**
 * Loads an optional peer dependency. `load` must be a literal `() => import('name')`
 * so bundlers see the specifier. When the package is not installed, the call
 * rejects with a {@link MissingDependencyError} naming it and the install command,
 * instead of the runtime's bare module-not-found error.
 */
export async function importOptional<T>(api: string, dependency: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isNotFound(error, dependency)) throw new MissingDependencyError(api, dependency, { cause: error });
    throw error;
  }
}
