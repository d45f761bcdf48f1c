import { describe, expect, it } from 'vitest';
import { wellFormed } from './encoding';

describe('wellFormed', () => {
  it('replaces lone surrogates with U+FFFD and keeps pairs and everything else', () => {
    expect(wellFormed('plain')).toBe('plain');
    expect(wellFormed('a\ud800b')).toBe('a\ufffdb');
    expect(wellFormed('\udc00x')).toBe('\ufffdx');
    expect(wellFormed('x\ud83d')).toBe('x\ufffd');
    expect(wellFormed('😀')).toBe('😀');
    expect(wellFormed('\udc00\ud800')).toBe('\ufffd\ufffd'); // a low then a high surrogate is no pair
  });

  it('gives what a UTF-8 round trip gives, for every string of surrogates and letters', () => {
    const units = ['a', '\ud800', '\udbff', '\udc00', '\udfff', '😀'];
    const strings = units.flatMap((x) => units.flatMap((y) => units.map((z) => x + y + z)));
    for (const s of strings) expect(wellFormed(s)).toBe(new TextDecoder().decode(new TextEncoder().encode(s)));
  });
});
