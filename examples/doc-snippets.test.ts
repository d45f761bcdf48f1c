import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkSnippets, extractSnippets } from '../scripts/doc-snippets.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

const doc = [
  '# Title', // 1
  '', // 2
  '```sh', // 3
  'pnpm add @ballast/core', // 4
  '```', // 5
  '<!-- snippet-setup', // 6
  'declare const request: Request;', // 7
  '-->', // 8
  '```ts', // 9
  "import { verifyWebhook } from '@ballast/core/webhooks';", // 10
  '', // 11
  "const event = await verifyWebhook(request, { scheme: 'stripe', secret: 'whsec_x' });", // 12
  'const id: string = event.id;', // 13
  '```', // 14
  '```ts nocheck', // 15
  "on: { 'x': handler }", // 16
  '```', // 17
  '<!-- snippet-setup declare const n: number; -->', // 18
  '```typescript', // 19
  'const twice: number = n * 2;', // 20
  '```', // 21
  '<!-- snippet-setup declare const Deno: { env: { get(name: string): string | undefined } }; -->', // 22
  '```ts', // 23
  "import { z } from 'npm:zod@4';", // 24
  "const port: number = z.coerce.number().parse(Deno.env.get('PORT'));", // 25
  '```', // 26
].join('\n');

describe('doc snippets', () => {
  it('extracts ts blocks with their setup comment and Markdown lines, skipping other languages', () => {
    const snippets = extractSnippets(doc, 'docs/x.md');
    expect(snippets.map(({ line, setup, setupLine, check }) => ({ line, setup, setupLine, check }))).toEqual([
      { line: 10, setup: 'declare const request: Request;', setupLine: 7, check: true },
      { line: 16, setup: '', setupLine: 0, check: false },
      { line: 20, setup: 'declare const n: number;', setupLine: 18, check: true },
      { line: 24, setup: expect.stringContaining('Deno'), setupLine: 22, check: true },
    ]);
    expect(snippets[0]?.code.split('\n')).toHaveLength(4);
    expect(() => extractSnippets('```ts\nconst x = 1;\n', 'docs/open.md')).toThrow('docs/open.md:1');
  });

  it('compiles the checked blocks strictly, each as its own module, with errors on their Markdown line', () => {
    const broken = doc
      .replace('const id: string = event.id;', 'const id: number = event.id;')
      .replace('declare const n: number;', '')
      .replace('declare const request: Request;', 'declare const request: Requestt;')
      .replace("'npm:zod@4'", "'npm:zod-missing'");
    // one program for both files (a compile takes seconds): the intact one must report nothing
    const snippets = [...extractSnippets(doc, 'docs/good.md'), ...extractSnippets(broken, 'docs/bad.md')];
    const problems = checkSnippets(snippets, join(root, 'tsconfig.json'), join(root, 'examples'));
    expect(problems.map(({ file, line }) => `${file}:${line}`)).toEqual([
      'docs/bad.md:7',
      'docs/bad.md:13',
      'docs/bad.md:20',
      'docs/bad.md:24',
    ]);
    expect(problems.map(({ message }) => message.split('\n')[0])).toEqual([
      "Cannot find name 'Requestt'. Did you mean 'Request'?",
      "Type 'string' is not assignable to type 'number'.",
      "Cannot find name 'n'.",
      "Cannot find module 'zod-missing' or its corresponding type declarations.",
    ]);
  }, 120_000);
});
