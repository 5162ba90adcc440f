import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DECLARED } from './helpers/tables.ts';
import { QUARANTINE_REASONS } from '../lambdas/core/decode.ts';
import { DEFAULTS } from '../lib/config.ts';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  it.each(Object.keys(DEFAULTS))('documents the configuration key %s', (key) => {
    expect(readme).toContain(`\`${key}\``);
  });

  it.each(DECLARED.queries.map((q) => q.name))('lists the named query %s', (name) => {
    expect(readme).toContain(`\`${name}\``);
  });

  it.each([...QUARANTINE_REASONS])('explains the quarantine reason %s', (reason) => {
    expect(readme).toContain(`\`${reason}\``);
  });

  it('shows the two commands on its first screen', () => {
    const firstScreen = readme.split('\n').slice(0, 15).join('\n');
    expect(firstScreen).toContain('npm start');
    expect(firstScreen).toContain('npm test');
  });
});
