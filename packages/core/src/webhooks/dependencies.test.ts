import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const CRYPTO_BACKENDS = [join(here, 'crypto/node.ts'), join(here, 'crypto/web.ts')];

/** Every import and re-export specifier of a source file (type-only ones included: they are erased). */
function specifiers(file: string): { specifier: string; typeOnly: boolean }[] {
  const source = readFileSync(file, 'utf8');
  const found: { specifier: string; typeOnly: boolean }[] = [];
  for (const match of source.matchAll(/^(import|export)(\s+type)?\b[^;]*?from\s+'([^']+)'/gms)) {
    found.push({ specifier: match[3] as string, typeOnly: match[2] !== undefined });
  }
  return found;
}

/** The files the webhooks entry loads at run time, and the bare specifiers they import. */
function runtimeGraph(): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const { specifier, typeOnly } of specifiers(file)) {
      if (typeOnly) continue;
      if (specifier === '#crypto') for (const backend of CRYPTO_BACKENDS) visit(backend);
      else if (specifier.startsWith('.')) visit(`${resolve(dirname(file), specifier)}.ts`);
      else bare.add(specifier);
    }
  };
  visit(join(here, 'index.ts'));
  return { files, bare };
}

describe('the webhooks entry', () => {
  it('has no runtime dependency: at run time it imports only node:crypto (the Node backend) and its own files', () => {
    const { files, bare } = runtimeGraph();
    expect([...bare]).toEqual(['node:crypto']);
    // the walk really followed the graph: schemes, both crypto backends, the shared encoding
    const relative = [...files].map((f) => f.slice(resolve(here, '..').length + 1));
    expect(relative).toEqual(
      expect.arrayContaining([
        'webhooks/verify.ts',
        'webhooks/schemes/stripe.ts',
        'webhooks/crypto/node.ts',
        'webhooks/crypto/web.ts',
        'internal/encoding.ts',
      ]),
    );
  });
});
