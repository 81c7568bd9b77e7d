/** The one way the host cuts text for display (host/clip-text.ts). */
import { expect, test } from 'vitest';
import { clipText } from '../../host/clip-text.ts';

/** True when `text` survives UTF-8 encoding: a lone surrogate (half a character) would not. */
const wholeInUtf8 = (text: string) => Buffer.from(text, 'utf8').toString('utf8') === text;

test('text within the bound is returned as it is', () => {
  expect(clipText('', 0)).toBe('');
  expect(clipText('abc', 3)).toBe('abc');
  expect(clipText('ü€😀', 4)).toBe('ü€😀');
});

test('longer text keeps its first characters and says how many more there were', () => {
  expect(clipText('abcdef', 4)).toBe('abcd… (2 more characters)');
  expect(clipText('abc', 0)).toBe('… (3 more characters)');
  expect(clipText('x'.repeat(1_000_000), 200)).toBe(`${'x'.repeat(200)}… (999800 more characters)`);
});

test('a cut never splits a character: a surrogate pair stays whole, multi-byte UTF-8 characters are never halved', () => {
  // '😀' is two UTF-16 units: a cut after 3 units would keep half of it.
  expect(clipText('ab😀cd', 3)).toBe('ab… (4 more characters)');
  expect(clipText('ab😀cd', 4)).toBe('ab😀… (2 more characters)');
  for (const text of ['😀'.repeat(50), 'é€😀'.repeat(20), '中文字符'.repeat(30), `a${'𝄞'.repeat(40)}`]) {
    for (let max = 0; max <= text.length; max++) {
      const clipped = clipText(text, max);
      expect(wholeInUtf8(clipped), `${JSON.stringify(text.slice(0, 8))} cut at ${max}`).toBe(true);
      const kept = clipped.split('… (')[0]!;
      expect(text.startsWith(kept)).toBe(true);
      expect(kept.length).toBeLessThanOrEqual(max);
    }
  }
});
