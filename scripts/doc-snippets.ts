/**
 * Compiles the ```ts blocks of Markdown docs under the repository's strict compiler options, the
 * way `examples/readme/tour.ts` keeps the README honest: a doc whose example stops compiling fails
 * `pnpm typecheck`.
 *
 * Each block is its own module. What a block uses without showing it (the `request` of a route,
 * the `db` of an earlier block) is declared in a setup comment right above the fence, which
 * Markdown does not render:
 *
 *     <!-- snippet-setup
 *     declare const request: Request;
 *     -->
 *     ```ts
 *     const event = await verifyWebhook(request, { scheme: 'stripe', secret: 'whsec_...' });
 *     ```
 *
 * A block that is a fragment (an object literal's inner lines, a shape) opts out visibly with
 * ```ts nocheck. Blocks of other languages are not read. A Deno block's `npm:` imports resolve to
 * the same packages; its setup declares what it uses of `Deno`.
 */
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

/** One ```ts block of a Markdown file. */
export interface Snippet {
  /** The Markdown file, as given. */
  readonly file: string;
  /** 1-based line of the block's first code line in the Markdown file. */
  readonly line: number;
  /** The block's code. */
  readonly code: string;
  /** The hidden declarations of its `snippet-setup` comment ('' without one). */
  readonly setup: string;
  /** 1-based line of the setup comment's first declaration line (0 without one). */
  readonly setupLine: number;
  /** False for ```ts nocheck. */
  readonly check: boolean;
}

/** A compiler error, placed in the Markdown file. */
export interface SnippetProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

const OPEN = /^```(ts|typescript)(?:\s+(.*))?$/;
const CLOSE = /^```\s*$/;
const SETUP_START = '<!-- snippet-setup';
const SETUP_END = '-->';

/** The setup comment ending on the line just above `fence` (0-based), if there is one. */
function setupAbove(lines: readonly string[], fence: number): { code: string; line: number } {
  const last = fence - 1;
  if (last < 0 || !(lines[last] ?? '').trimEnd().endsWith(SETUP_END)) return { code: '', line: 0 };
  for (let start = last; start >= 0; start--) {
    const text = lines[start] ?? '';
    if (!text.startsWith(SETUP_START)) continue;
    // a one-line comment: <!-- snippet-setup declare const x: string; -->
    if (start === last) {
      return { code: text.slice(SETUP_START.length, text.lastIndexOf(SETUP_END)).trim(), line: start + 1 };
    }
    return { code: lines.slice(start + 1, last).join('\n'), line: start + 2 };
  }
  return { code: '', line: 0 };
}

/** The ```ts blocks of one Markdown text. Throws on a block that is never closed. */
export function extractSnippets(markdown: string, file: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  let inOther = false;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    if (inOther) {
      if (CLOSE.test(text)) inOther = false;
      continue;
    }
    const open = OPEN.exec(text);
    if (open === null) {
      if (text.startsWith('```')) inOther = true;
      continue;
    }
    const flags = (open[2] ?? '').split(/\s+/).filter(Boolean);
    const end = lines.findIndex((candidate, at) => at > i && CLOSE.test(candidate));
    if (end === -1) throw new Error(`${file}:${i + 1}: a \`\`\`ts block is never closed`);
    const setup = setupAbove(lines, i);
    snippets.push({
      file,
      line: i + 2,
      code: lines.slice(i + 1, end).join('\n'),
      setup: setup.code,
      setupLine: setup.line,
      check: !flags.includes('nocheck'),
    });
    i = end;
  }
  return snippets;
}

/** A Deno `npm:` specifier (`'npm:zod@4/mini'`): the package name, and the version to drop. */
const NPM_SPECIFIER = /(['"])npm:((?:@[^/'"@]+\/)?[^/'"@]+)(?:@[^/'"]*)?/g;

/**
 * The module a snippet compiles as: the setup, then the code, as a module of its own. Deno's
 * `npm:` specifiers resolve to the same packages (a Deno block declares `Deno` in its setup).
 */
function moduleText(snippet: Snippet): { text: string; setupLines: number } {
  const setupLines = snippet.setup === '' ? 0 : snippet.setup.split('\n').length;
  const setup = snippet.setup === '' ? '' : `${snippet.setup}\n`;
  const code = snippet.code.replace(NPM_SPECIFIER, '$1$2');
  return { text: `${setup}${code}\nexport {};\n`, setupLines };
}

/**
 * Type-checks the snippets with the options of `tsconfig` (strict, as the rest of the repository),
 * each as a module placed in `directory` so that imports resolve as they would from there. Returns
 * one problem per compiler error, with its Markdown line.
 */
export function checkSnippets(snippets: readonly Snippet[], tsconfig: string, directory: string): SnippetProblem[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    tsconfig,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (parsed === undefined) throw new Error(`cannot read ${tsconfig}`);
  const options: ts.CompilerOptions = { ...parsed.options, noEmit: true, incremental: false };
  const files = new Map<string, { snippet: Snippet; text: string; setupLines: number }>();
  snippets.forEach((snippet, index) => {
    if (!snippet.check) return;
    const name = `${snippet.file.replace(/[^\w]+/g, '_')}_${index}`;
    files.set(join(directory, `__snippet_${name}.ts`), { snippet, ...moduleText(snippet) });
  });
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (path) => files.has(path) || fileExists.call(host, path);
  host.readFile = (path) => files.get(path)?.text ?? readFile.call(host, path);
  host.getSourceFile = (path, languageVersion, ...rest) => {
    const virtual = files.get(path);
    if (virtual !== undefined) return ts.createSourceFile(path, virtual.text, languageVersion, true);
    return getSourceFile.call(host, path, languageVersion, ...rest);
  };
  const program = ts.createProgram({ rootNames: [...files.keys()], options, host });
  const problems: SnippetProblem[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const virtual = diagnostic.file === undefined ? undefined : files.get(diagnostic.file.fileName);
    if (diagnostic.file === undefined || virtual === undefined) {
      const where = diagnostic.file === undefined ? 'tsconfig' : relative(dirname(tsconfig), diagnostic.file.fileName);
      problems.push({ file: where, line: 0, message });
      continue;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const { snippet, setupLines } = virtual;
    const mdLine = line < setupLines ? snippet.setupLine + line : snippet.line + line - setupLines;
    problems.push({ file: snippet.file, line: mdLine, message });
  }
  return problems;
}
