import { describe, expect, it } from 'vitest';
import { TABLE } from '../../../lambdas/core/lake-layout.ts';
import { NAMED_QUERIES, namedQuery, UnknownQueryError } from '../../../lambdas/core/queries.ts';

describe('namedQuery', () => {
  it('returns each named query by its name', () => {
    expect(NAMED_QUERIES.length).toBeGreaterThan(0);
    for (const query of NAMED_QUERIES) expect(namedQuery(query.name)).toBe(query);
  });

  it('throws UnknownQueryError listing every name for an unknown query', () => {
    let error: unknown;
    try {
      namedQuery('latest_readings');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UnknownQueryError);
    const message = (error as Error).message;
    expect((error as Error).name).toBe('UnknownQueryError');
    expect(message).toContain('"latest_readings"');
    expect(message).toContain('streamlake queries');
    for (const query of NAMED_QUERIES) expect(message).toContain(query.name);
  });

  it('does not match names loosely', () => {
    const [first] = NAMED_QUERIES;
    expect(() => namedQuery(first!.name.toUpperCase())).toThrow(UnknownQueryError);
    expect(() => namedQuery(` ${first!.name}`)).toThrow(UnknownQueryError);
    expect(() => namedQuery('')).toThrow(UnknownQueryError);
  });
});

describe('NAMED_QUERIES', () => {
  it('have unique snake_case names', () => {
    const names = NAMED_QUERIES.map((q) => q.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  });

  it('all read the device_logs table', () => {
    expect(TABLE).toBe('device_logs');
    for (const query of NAMED_QUERIES) expect(query.sql, query.name).toMatch(new RegExp(`\\bFROM\\s+${TABLE}\\b`));
  });

  it('each have a description and a single statement', () => {
    for (const query of NAMED_QUERIES) {
      expect(query.description.trim(), query.name).not.toBe('');
      expect(query.sql.trim(), query.name).toMatch(/^SELECT\b/);
      expect(query.sql, query.name).not.toContain(';');
    }
  });
});
