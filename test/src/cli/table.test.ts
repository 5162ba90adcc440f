import { describe, expect, it } from 'vitest';
import { formatBytes, formatTable, formatUsd } from '../../../src/cli/table.ts';

interface Span {
  readonly start: number;
  readonly width: number;
}

/** Column positions, read off the dashed line under the header. */
function spansOf(separator: string): Span[] {
  return [...separator.matchAll(/-+/g)].map((match) => ({ start: match.index, width: match[0].length }));
}

/** Checks that each line holds each cell at its column's position, padded on the side alignment asks for. */
function expectAligned(lines: readonly string[], cells: readonly (readonly string[])[], rightAligned: readonly boolean[]): void {
  const spans = spansOf(lines[1]!);
  expect(spans).toHaveLength(rightAligned.length);
  cells.forEach((row, r) => {
    const line = lines[r === 0 ? 0 : r + 1]!;
    expect(line, `line ${r}`).toBe(line.trimEnd());
    spans.forEach(({ start, width }, c) => {
      const expected = row[c]!;
      const slot = line.slice(start, start + width).padEnd(width);
      expect(slot, `line ${r}, column ${c}`).toBe(rightAligned[c] ? expected.padStart(width) : expected.padEnd(width));
      const gapBefore = c === 0 ? line.slice(0, start) : line.slice(spans[c - 1]!.start + spans[c - 1]!.width, start);
      expect(gapBefore.trim(), `gap before column ${c} on line ${r}`).toBe('');
    });
    const last = spans[spans.length - 1]!;
    expect(line.length).toBeLessThanOrEqual(last.start + last.width);
  });
}

describe('formatTable', () => {
  const columns = ['device_id', 'readings', 'avg_temperature_c', 'status'];
  const rows = [
    { device_id: 'dev-00001', readings: 60, avg_temperature_c: 21.45, status: 'ok' },
    { device_id: 'dev-00002', readings: 1234, avg_temperature_c: null, status: 'warning' },
    { device_id: 'dev-10', readings: 7, avg_temperature_c: -3.5, status: 'error' },
  ];

  it('aligns header and rows on the same column starts, numbers to the right', () => {
    const lines = formatTable(columns, rows).split('\n');
    expect(lines).toHaveLength(2 + rows.length);
    expect(lines[1]).toMatch(/^-+( {2}-+)*$/);
    expectAligned(
      lines,
      [
        columns,
        ['dev-00001', '60', '21.45', 'ok'],
        ['dev-00002', '1234', 'NULL', 'warning'],
        ['dev-10', '7', '-3.5', 'error'],
      ],
      [false, true, true, false],
    );
  });

  it('widens a column to its longest value and separates columns by two spaces', () => {
    const lines = formatTable(['id', 'n'], [{ id: 'a-long-identifier', n: 123456 }]).split('\n');
    expect(lines).toEqual([`${'id'.padEnd(17)}  ${'n'.padStart(6)}`, '-----------------  ------', 'a-long-identifier  123456']);
  });

  it('shows null and missing values as NULL', () => {
    const lines = formatTable(['site', 'battery_pct'], [{ site: null, battery_pct: 12.5 }, { site: 'cold-store', battery_pct: null }]).split('\n');
    expectAligned(lines, [['site', 'battery_pct'], ['NULL', '12.5'], ['cold-store', 'NULL']], [false, true]);
    expect(formatTable(['site'], [{}]).split('\n')[2]).toBe('NULL');
  });

  it('aligns a column left when it mixes numbers and text', () => {
    const lines = formatTable(['value'], [{ value: 5 }, { value: 'five' }]).split('\n');
    expectAligned(lines, [['value'], ['5'], ['five']], [false]);
  });

  it('shows ISO timestamps without the T, the Z and zero milliseconds', () => {
    const lines = formatTable(['event_time'], [{ event_time: '2026-01-31T12:00:00.000Z' }, { event_time: '2026-01-31T12:00:00.250Z' }]).split('\n');
    expect(lines.slice(2).map((l) => l.trimEnd())).toEqual(['2026-01-31 12:00:00', '2026-01-31 12:00:00.250']);
  });

  it('shows at most maxRows rows and says how many more there are', () => {
    const many = Array.from({ length: 5 }, (_, i) => ({ n: i }));
    const lines = formatTable(['n'], many, 2).split('\n');
    expect(lines).toEqual(['n', '-', '0', '1', '… 3 more rows']);
    expect(formatTable(['n'], many, 5)).not.toContain('more rows');
  });

  it('says (no rows) for an empty result, still showing the header', () => {
    expect(formatTable(['device_id', 'readings'], []).split('\n')).toEqual(['device_id  readings', '---------  --------', '(no rows)']);
  });
});

describe('formatBytes', () => {
  it('shows bytes as whole numbers and larger units with one decimal', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1000)).toBe('1.0 KB');
    expect(formatBytes(1_234_567)).toBe('1.2 MB');
    expect(formatBytes(3_500_000_000)).toBe('3.5 GB');
    expect(formatBytes(2e12)).toBe('2.0 TB');
  });

  it('stays in TB beyond the largest unit', () => {
    expect(formatBytes(5e15)).toBe('5000.0 TB');
  });

  it('moves to the next unit when rounding would show 1000 of the smaller one', () => {
    expect(formatBytes(999_999)).toBe('1.0 MB');
    expect(formatBytes(999_960)).toBe('1.0 MB');
  });
});

describe('formatUsd', () => {
  it('shows cents for amounts of a cent or more', () => {
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(0.01)).toBe('$0.01');
    expect(formatUsd(0.494)).toBe('$0.49');
    expect(formatUsd(12.5)).toBe('$12.50');
  });

  it('keeps two significant digits below a cent, so a minimum Athena charge is not shown as zero', () => {
    expect(formatUsd(0.0000476837158203125)).toBe('$0.000048');
    expect(formatUsd(0.0047)).toBe('$0.0047');
  });
});
