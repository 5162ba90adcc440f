import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import { ANNOTATIONS, isObject } from '../../lambdas/core/field-declaration.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import { tableConstructId } from '../tables.ts';
import { clip } from './lake-catalog.ts';

/** The JSON Schema draft a registered definition declares: the Glue Schema Registry validates drafts 4, 6 and 7 only. */
export const REGISTERED_DRAFT = 'http://json-schema.org/draft-07/schema#';

/**
 * How the registry checks a new version of a table's schema against the one before. The lock file
 * already refused, at synth, every change the table's files cannot follow.
 */
export const SCHEMA_COMPATIBILITY = 'BACKWARD';

// Keywords that decide no record's verdict, so they are not part of the contract: the annotations, and `$id`, which names the document.
const NOT_CONTRACT = new Set([...ANNOTATIONS, '$id']);
// String lists whose order means nothing.
const UNORDERED = new Set(['required', 'enum', 'type']);

/**
 * The contract of a declaration as the registry stores it: the declaration without its annotations,
 * under draft-07 (whose meaning is the same for every keyword a declaration may use), as canonical
 * JSON (keys and unordered lists sorted). So a new schema version is a new contract: editing a
 * description or reordering fields registers nothing, and since the lock file lets a contract only
 * grow, no earlier version is ever registered again (which CloudFormation would refuse).
 */
export function registeredDefinition(declaration: Record<string, unknown>): string {
  return JSON.stringify(canonical({ ...contractOf(declaration), $schema: REGISTERED_DRAFT }));
}

// A schema without its annotations, and so are its subschemas: the fields of an object (and the values of a map), the element of an array.
function contractOf(schema: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([keyword]) => !NOT_CONTRACT.has(keyword))
      .map(([keyword, value]) => {
        if (keyword === 'properties' && isObject(value)) return [keyword, Object.fromEntries(Object.entries(value).map(([name, field]) => [name, isObject(field) ? contractOf(field) : field]))];
        if ((keyword === 'items' || keyword === 'additionalProperties') && isObject(value)) return [keyword, contractOf(value)];
        return [keyword, value];
      }),
  );
}

function canonical(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return UNORDERED.has(key) ? [...value].sort() : value.map((item) => canonical(item));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k], k)]));
}

export interface TableSchemaRegistryProps {
  /** The declared tables: each gets a schema of the registry. Required. */
  readonly tables: readonly TableSpec[];
  /** What happens to the registry and its schemas on stack deletion. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The tables' record schemas in the AWS Glue Schema Registry, for producers and consumers outside
 * the pipeline: one registry, a JSON schema per table (compatibility `SCHEMA_COMPATIBILITY`) and a
 * schema version per contract the table has had.
 *
 * CloudFormation cannot change a registered definition in place: `SchemaDefinition` of both
 * `AWS::Glue::Schema` and `AWS::Glue::SchemaVersion` is create-only. So the schema is made without
 * a definition, and each contract is an `AWS::Glue::SchemaVersion` whose construct ID carries the
 * contract's hash: a changed contract adds a resource, and Glue registers it as the next version,
 * refusing it if it is not compatible. Versions are retained when a newer one replaces them in the
 * template, so the registry keeps the table's whole history.
 */
export class TableSchemaRegistry extends Construct {
  readonly registry: glue.CfnRegistry;
  /** Each table's schema, by table name. */
  readonly schemas: ReadonlyMap<string, glue.CfnSchema>;
  /** Each table's current schema version, by table name. */
  readonly versions: ReadonlyMap<string, glue.CfnSchemaVersion>;

  constructor(scope: Construct, id: string, props: TableSchemaRegistryProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.registry = new glue.CfnRegistry(this, 'Registry', {
      name: `${Stack.of(this).stackName}-tables`,
      description: 'streamlake: the record schema of every declared table',
    });
    this.registry.applyRemovalPolicy(removalPolicy);
    const schemas = new Map<string, glue.CfnSchema>();
    const versions = new Map<string, glue.CfnSchemaVersion>();
    for (const table of props.tables) {
      const tableId = tableConstructId(table.name);
      const schema = new glue.CfnSchema(this, tableId, {
        name: table.name,
        registry: { arn: this.registry.attrArn },
        dataFormat: 'JSON',
        compatibility: SCHEMA_COMPATIBILITY,
        description: clip(table.description || `Records of topic ${table.topic}`, 1000),
      });
      schema.applyRemovalPolicy(removalPolicy);
      const definition = registeredDefinition(JSON.parse(readFileSync(table.source, 'utf8')) as Record<string, unknown>);
      const version = new glue.CfnSchemaVersion(this, `${tableId}Version${createHash('sha256').update(definition).digest('hex').slice(0, 16)}`, {
        schema: { schemaArn: schema.attrArn },
        schemaDefinition: definition,
      });
      // Removing a version from the template must not delete it from the registry.
      version.applyRemovalPolicy(RemovalPolicy.RETAIN);
      schemas.set(table.name, schema);
      versions.set(table.name, version);
    }
    this.schemas = schemas;
    this.versions = versions;
  }
}
