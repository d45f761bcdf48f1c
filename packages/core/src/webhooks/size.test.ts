import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * Keeps the size stated in docs/webhooks.md true: the entry is bundled and
 * minified here the way the doc says, and the stated sizes must match the
 * measured ones within 3%. A change that grows the entry updates the doc.
 */
const docs = readFileSync(new URL('../../../../docs/webhooks.md', import.meta.url), 'utf8');

async function measure(conditions: string[]): Promise<{ kb: number; gzipKb: number; imports: string[] }> {
  const result = await build({
    entryPoints: [new URL('./index.ts', import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    write: false,
    metafile: true,
    conditions: ['@ballast/source', ...conditions],
    external: ['node:*'],
  });
  const bytes = result.outputFiles[0]?.contents ?? new Uint8Array();
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  return { kb: bytes.length / 1024, gzipKb: gzipSync(bytes).length / 1024, imports };
}

function stated(label: string): { kb: number; gzipKb: number } {
  const match = new RegExp(`${label}\\s+(?:conditions\\s+)?(?:gives\\s+)?([\\d.]+) KB \\(([\\d.]+) KB gzipped`).exec(
    docs,
  );
  if (!match?.[1] || !match[2]) throw new Error(`docs/webhooks.md states no size for "${label}"`);
  return { kb: Number(match[1]), gzipKb: Number(match[2]) };
}

describe('the size of @ballast/core/webhooks stated in docs/webhooks.md', () => {
  it.each([
    ['the node conditions', ['node']],
    ['the default \\(Web Crypto\\)', []],
  ])('matches the measured bundle with %s', async (label, conditions) => {
    const measured = await measure(conditions);
    const doc = stated(label);
    expect(measured.kb).toBeGreaterThan(doc.kb * 0.97);
    expect(measured.kb).toBeLessThan(doc.kb * 1.03);
    expect(measured.gzipKb).toBeGreaterThan(doc.gzipKb * 0.97);
    expect(measured.gzipKb).toBeLessThan(doc.gzipKb * 1.03);
    // no runtime dependency: at most node:crypto
    expect(measured.imports.filter((path) => path !== 'node:crypto')).toEqual([]);
  });
});
