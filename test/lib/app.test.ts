import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTables, tableNamed } from '../../lambdas/adapters/table-directory.ts';
import { ENV } from '../../lambdas/handlers/environment.ts';
import { BUNDLED_TABLES_DIR } from '../../lib/functions/lambda-defaults.ts';
import { tempDir } from '../helpers/lake.ts';
import { CDK_CONTEXT, fixtureTables } from '../helpers/synth.ts';

const PROJECT_ROOT = join(import.meta.dirname, '../..');

/** Runs the CDK app as `cdk synth` does: context in CDK_CONTEXT_JSON, the cloud assembly into a temporary directory. */
function synthApp(context: Record<string, unknown>) {
  const outdir = tempDir();
  const child = spawnSync(process.execPath, ['bin/streamlake.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_CONTEXT, 'aws:cdk:enable-asset-metadata': true, ...context }), CDK_OUTDIR: outdir.path },
    encoding: 'utf8',
  });
  return { child, outdir };
}

describe('the CDK app', () => {
  const dirs: { remove: () => void }[] = [];
  afterAll(() => dirs.forEach((dir) => dir.remove()));

  it('refuses to synthesize a declaration that drops a deployed field, naming the table, the field and the way out', () => {
    const { child, outdir } = synthApp({ tablesDir: 'test/fixtures/tables-incompatible' });
    dirs.push(outdir);
    expect(child.status).toBe(1);
    expect(child.stderr).toContain('IncompatibleSchemaError');
    expect(child.stderr).toMatch(/table orders: field coupon was removed or renamed.*keep it \(make it optional\)/);
    expect(readdirSync(outdir.path)).toEqual([]);
  });

  it('names a missing tables directory', () => {
    const { child, outdir } = synthApp({ tablesDir: 'test/fixtures/no-such-dir' });
    dirs.push(outdir);
    expect(child.status).toBe(1);
    expect(child.stderr).toMatch(/TableDeclarationError: .*no-such-dir: no such directory of table declarations/);
  });

  it('bundles into each compactor the declaration of its table only, where its environment says', () => {
    const { child, outdir } = synthApp({ tablesDir: 'test/fixtures/tables-three' });
    dirs.push(outdir);
    expect(child.status, child.stderr).toBe(0);
    const template = JSON.parse(readFileSync(join(outdir.path, 'streamlake.template.json'), 'utf8')) as { Resources: Record<string, any> };
    const compactors = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.[ENV.table]);
    expect(compactors.map((fn) => fn.Properties.Environment.Variables[ENV.table]).sort()).toEqual(['clicks', 'device_logs', 'orders']);
    for (const fn of compactors) {
      const table = fn.Properties.Environment.Variables[ENV.table] as string;
      expect(fn.Properties.Environment.Variables[ENV.tablesDir]).toBe(BUNDLED_TABLES_DIR);
      // The bundle is the function's /var/task: its tables/ is what the handler loads.
      const bundled = join(outdir.path, fn.Metadata['aws:asset:path'] as string, 'tables');
      expect(readdirSync(bundled)).toEqual([`${table}.schema.json`]);
      expect(readFileSync(join(bundled, `${table}.schema.json`), 'utf8')).toBe(readFileSync(join(fixtureTables('tables-three'), `${table}.schema.json`), 'utf8'));
      expect(tableNamed(loadTables(bundled), table).name).toBe(table);
    }
  }, 60_000);
});
