import { describe, expect, it } from 'vitest';
import { logOnceReporter, safeReporter } from './report';

describe('logOnceReporter', () => {
  it('logs each distinct cause once, with its scope', () => {
    const lines: [string, unknown][] = [];
    const report = logOnceReporter('inbox worker stripe', (line, error) => void lines.push([line, error]));
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    report(down);
    report(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    report(new Error('other'));
    report('a string');
    report('a string');
    expect(lines.map(([, e]) => e)).toEqual([down, expect.objectContaining({ message: 'other' }), 'a string']);
    expect(lines[0]?.[0]).toMatch(/^\[@ballast\/core\] \[inbox worker stripe\] /);
  });

  it('tells errors with the same message but another code apart', () => {
    const seen: unknown[] = [];
    const report = logOnceReporter('x', (_, e) => void seen.push(e));
    report(Object.assign(new Error('m'), { code: 'a' }));
    report(Object.assign(new Error('m'), { code: 'b' }));
    expect(seen).toHaveLength(2);
  });
});

describe('safeReporter', () => {
  it('swallows a throw from the reporter it wraps', () => {
    const calls: unknown[] = [];
    const report = safeReporter((e) => {
      calls.push(e);
      throw new Error('broken reporter');
    });
    expect(() => report('x')).not.toThrow();
    expect(calls).toEqual(['x']);
  });
});
