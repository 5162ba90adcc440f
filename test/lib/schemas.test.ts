import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REGISTERED_DRAFT, registeredDefinition, SCHEMA_COMPATIBILITY } from '../../lib/query/table-schemas.ts';
import { tempDir } from '../helpers/lake.ts';
import { fixtureTables, resourcesOf, synthStack } from '../helpers/synth.ts';

const THREE = 'test/fixtures/tables-three';
const declaration = (dir: string, table: string) => JSON.parse(readFileSync(join(dir, `${table}.schema.json`), 'utf8')) as Record<string, any>;

/** The schema versions of a synthesized stack, by table name. */
function versionsOf(tablesDir: string): Map<string, { id: string; definition: string }> {
  const { template, stack } = synthStack({ tablesDir });
  return new Map([...stack.schemas.versions].map(([table, version]) => {
    const id = stack.getLogicalId(version);
    return [table, { id, definition: template.toJSON().Resources[id].Properties.SchemaDefinition as string }];
  }));
}

describe('Glue Schema Registry', () => {
  const { template, stack } = synthStack({ tablesDir: THREE });
  const registryId = stack.getLogicalId(stack.schemas.registry);

  it('holds one JSON schema per table, checked BACKWARD, in one registry of the stack, deleted with it (a redeploy registers the declarations again under the same names)', () => {
    expect(resourcesOf(template, 'AWS::Glue::Registry').map(([, r]) => r.Properties.Name)).toEqual(['streamlake-tables']);
    const schemas = resourcesOf(template, 'AWS::Glue::Schema');
    expect(schemas.map(([, s]) => s.Properties.Name).sort()).toEqual(['clicks', 'device_logs', 'orders']);
    for (const [, schema] of schemas) {
      expect(schema.Properties).toMatchObject({ DataFormat: 'JSON', Compatibility: SCHEMA_COMPATIBILITY, Registry: { Arn: { 'Fn::GetAtt': [registryId, 'Arn'] } } });
      // The definition is create-only on AWS::Glue::Schema: every version, the first included, is a SchemaVersion.
      expect(schema.Properties.SchemaDefinition).toBeUndefined();
      expect(schema.DeletionPolicy ?? 'Delete').toBe('Delete');
    }
    expect(template.toJSON().Resources[registryId].DeletionPolicy ?? 'Delete').toBe('Delete');
  });

  it('registers each declaration as a version of its table schema, retained when a newer one replaces it', () => {
    const versions = resourcesOf(template, 'AWS::Glue::SchemaVersion');
    expect(versions).toHaveLength(3);
    for (const [table, version] of stack.schemas.versions) {
      const resource = template.toJSON().Resources[stack.getLogicalId(version)];
      expect(resource.Properties.Schema).toEqual({ SchemaArn: { 'Fn::GetAtt': [stack.getLogicalId(stack.schemas.schemas.get(table)!), 'Arn'] } });
      expect(resource.Properties.SchemaDefinition).toBe(registeredDefinition(declaration(fixtureTables('tables-three'), table)));
      expect(resource.DeletionPolicy).toBe('Retain');
    }
    expect(synthStack({ tablesDir: THREE, stage: 'dev' }).template.toJSON().Resources[stack.getLogicalId(stack.schemas.versions.get('orders')!)].DeletionPolicy).toBe('Retain');
  });

  it('grants the Lambdas nothing on the registry: the compactors read their bundled declaration', () => {
    expect(JSON.stringify(resourcesOf(template, 'AWS::IAM::Policy'))).not.toMatch(/"glue:/);
  });
});

describe('registered definition', () => {
  const orders = declaration(fixtureTables('tables-three'), 'orders');
  const registered = JSON.parse(registeredDefinition(orders)) as Record<string, any>;

  it('is the declaration contract under draft-07: its validation keywords and x-streamlake, without annotations', () => {
    expect(registered.$schema).toBe(REGISTERED_DRAFT);
    expect(registered['x-streamlake']).toEqual(orders['x-streamlake']);
    expect(Object.keys(registered.properties)).toEqual(Object.keys(orders.properties).sort());
    expect(registered.properties.total).toEqual({ type: ['number', 'string'], 'x-streamlake-type': 'decimal(12,2)' });
    expect(registered.properties.shipping).toEqual({ type: 'object', properties: { city: { type: 'string' }, zip: { type: 'string' } }, required: ['city'] });
    expect(registeredDefinition(orders)).not.toMatch(/"(description|title)"/);
  });

  it('keeps a field named like an annotation keyword', () => {
    const withTitle = { ...orders, properties: { ...orders.properties, title: { type: 'string', description: 'Order title.' } } };
    expect(JSON.parse(registeredDefinition(withTitle)).properties.title).toEqual({ type: 'string' });
  });

  it('is the same for a declaration whose descriptions, key order or lists were only reworded or reordered', () => {
    const reworded: Record<string, any> = { ...orders, description: 'Another wording.', required: [...orders.required].reverse() };
    reworded.properties = Object.fromEntries(Object.entries(orders.properties).reverse().map(([name, field]) => [name, { ...(field as object), description: `${name}!` }]));
    reworded.properties.currency = { ...reworded.properties.currency, enum: [...orders.properties.currency.enum].reverse() };
    expect(registeredDefinition(reworded)).toBe(registeredDefinition(orders));
  });
});

describe('a changed declaration', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());
  const before = versionsOf(THREE);

  function variant(name: string, change: (orders: Record<string, any>) => void): string {
    const copy = join(dir.path, name);
    cpSync(fixtureTables('tables-three'), copy, { recursive: true });
    const orders = declaration(copy, 'orders');
    change(orders);
    writeFileSync(join(copy, 'orders.schema.json'), JSON.stringify(orders));
    return copy;
  }

  it('adds a new schema version resource for the new contract, and leaves the other tables versions as they are', () => {
    const after = versionsOf(variant('added-field', (orders) => void (orders.properties.gift_note = { type: 'string' })));
    expect(after.get('orders')!.id).not.toBe(before.get('orders')!.id);
    expect(JSON.parse(after.get('orders')!.definition).properties.gift_note).toEqual({ type: 'string' });
    for (const table of ['clicks', 'device_logs']) expect(after.get(table)).toEqual(before.get(table));
  });

  it('registers nothing new when only a description changed', () => {
    const after = versionsOf(variant('reworded', (orders) => void (orders.properties.order_id.description = 'The order, as the shop numbers it.')));
    expect(after).toEqual(before);
  });
});
