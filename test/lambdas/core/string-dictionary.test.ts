import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashBytes } from '../../../lambdas/core/flat-json.ts';
import { StringDictionary } from '../../../lambdas/core/string-dictionary.ts';

const utf8 = new TextEncoder();

/** Looks `text` up by its bytes, inside a larger buffer as the scanner finds it, adding it when new. */
function byBytes(dictionary: StringDictionary, text: string): number {
  const bytes = utf8.encode(`{"k":"${text}"}`);
  const start = 6;
  const end = bytes.length - 2;
  const hash = hashBytes(bytes, start, end);
  const id = dictionary.find(bytes, start, end, hash);
  return id >= 0 ? id : dictionary.add(text, bytes, start, end, hash);
}

describe('StringDictionary', () => {
  it('gives each distinct string one id, in order of first sight, whether looked up by bytes or by text', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }), { maxLength: 300 }), fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }), (texts, byText) => {
        const dictionary = new StringDictionary();
        const ids = texts.map((text, i) => (byText[i] ? dictionary.idOf(text) : byBytes(dictionary, text)));
        const distinct = [...new Set(texts)];
        expect(dictionary.values).toEqual(distinct);
        expect(ids).toEqual(texts.map((text) => distinct.indexOf(text)));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps ids stable as it grows past its initial table and byte store', () => {
    const dictionary = new StringDictionary();
    const texts = Array.from({ length: 20_000 }, (_, i) => `device-${i.toString(36)}-${'x'.repeat(i % 40)}`);
    const ids = texts.map((text) => byBytes(dictionary, text));
    expect(ids).toEqual(texts.map((_, i) => i));
    expect(texts.map((text) => byBytes(dictionary, text))).toEqual(ids);
    expect(dictionary.idOf(texts[12_345]!)).toBe(12_345);
  });

  it('tells apart strings whose hashes collide', () => {
    const dictionary = new StringDictionary();
    const bytes = utf8.encode('ab');
    // Same (forced) hash, different bytes: found only by an exact byte match.
    expect(dictionary.add('a', bytes, 0, 1, 7)).toBe(0);
    expect(dictionary.find(bytes, 1, 2, 7)).toBe(-1);
    expect(dictionary.add('b', bytes, 1, 2, 7)).toBe(1);
    expect(dictionary.find(bytes, 1, 2, 7)).toBe(1);
    expect(dictionary.find(bytes, 0, 1, 7)).toBe(0);
  });

  it('keeps a string by the UTF-8 it is written as: lone surrogates become the one U+FFFD they encode to', () => {
    const dictionary = new StringDictionary();
    expect(dictionary.idOf('a\ud800')).toBe(0);
    expect(dictionary.idOf('a\udc00')).toBe(0);
    expect(dictionary.idOf('a\ufffd')).toBe(0);
    expect(dictionary.values).toEqual(['a\ufffd']);
  });
});
