/**
 * The part of Deno's global the functions use, so that `pnpm typecheck`
 * compiles them with the rest of the repository (Deno itself declares the
 * full global; this file is not deployed).
 */
declare const Deno: {
  env: { get(name: string): string | undefined };
};
