import { describe, expect, it } from 'vitest';
import { NamedQueryError, namedQuery, parseNamedQuery, UnknownQueryError } from '../../../lambdas/core/queries.ts';
import { DECLARED } from '../../helpers/tables.ts';

const QUERIES = DECLARED.queries;

describe('namedQuery', () => {
  it('returns each named query by its name', () => {
    expect(QUERIES.length).toBeGreaterThan(0);
    for (const query of QUERIES) expect(namedQuery(QUERIES, query.name)).toBe(query);
  });

  it('throws UnknownQueryError listing every name for an unknown query', () => {
    let error: unknown;
    try {
      namedQuery(QUERIES, 'latest_readings');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UnknownQueryError);
    const message = (error as Error).message;
    expect(message).toContain('"latest_readings"');
    expect(message).toContain('streamlake queries');
    for (const query of QUERIES) expect(message).toContain(query.name);
  });

  it('does not match names loosely', () => {
    const [first] = QUERIES;
    expect(() => namedQuery(QUERIES, first!.name.toUpperCase())).toThrow(UnknownQueryError);
    expect(() => namedQuery(QUERIES, ` ${first!.name}`)).toThrow(UnknownQueryError);
    expect(() => namedQuery(QUERIES, '')).toThrow(UnknownQueryError);
  });
});

describe('parseNamedQuery', () => {
  it('takes the leading comment lines as the description and the rest as the SQL', () => {
    const query = parseNamedQuery('orders', 'daily_totals', '-- Orders per day,\n-- newest first.\nSELECT 1\nFROM orders;\n', 'x.sql');
    expect(query).toEqual({ name: 'daily_totals', table: 'orders', description: 'Orders per day, newest first.', sql: 'SELECT 1\nFROM orders' });
  });

  it('refuses a file without a description, without SQL, or with a name Athena cannot take', () => {
    expect(() => parseNamedQuery('orders', 'q', 'SELECT 1', 'q.sql')).toThrow(/q\.sql: start the file with a -- comment/);
    expect(() => parseNamedQuery('orders', 'q', '-- only words\n', 'q.sql')).toThrow(/q\.sql: the file holds no SQL/);
    expect(() => parseNamedQuery('orders', 'Daily-Totals', '-- d\nSELECT 1', 'Daily-Totals.sql')).toThrow(NamedQueryError);
  });
});

describe('the shipped named queries', () => {
  it('each read their own table, with a description and a single statement', () => {
    for (const query of QUERIES) {
      expect(query.sql, query.name).toMatch(new RegExp(`\\bFROM\\s+${query.table}\\b`));
      expect(query.description.trim(), query.name).not.toBe('');
      expect(query.sql.trim(), query.name).toMatch(/^SELECT\b/);
      expect(query.sql, query.name).not.toContain(';');
    }
  });
});
