import type { ColumnSpec } from './schema.ts';
import { bucketMillis } from './lake-layout.ts';
import type { PartitionBy } from './table-declaration.ts';

/**
 * A table's columns as an Apache Iceberg (format v2) schema. Every column and every part of a
 * nested one has a field id that never changes: a column keeps its id across declarations (matched
 * by its name path) and a new one takes the next free id, as Iceberg's own schema evolution does.
 * The Parquet files name their columns, not their ids, so the table carries a name mapping
 * (`schema.name-mapping.default`) that readers use to find each id's column.
 */

export type IcebergType = string | IcebergStruct | IcebergList | IcebergMap;

export interface IcebergField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergType;
  readonly doc?: string;
}

export interface IcebergStruct {
  readonly type: 'struct';
  readonly fields: readonly IcebergField[];
}

export interface IcebergList {
  readonly type: 'list';
  readonly 'element-id': number;
  readonly element: IcebergType;
  readonly 'element-required': boolean;
}

export interface IcebergMap {
  readonly type: 'map';
  readonly 'key-id': number;
  readonly key: IcebergType;
  readonly 'value-id': number;
  readonly value: IcebergType;
  readonly 'value-required': boolean;
}

export interface IcebergSchema extends IcebergStruct {
  readonly 'schema-id': number;
}

/** An entry of a name mapping: the names a field id's column has in data files. */
export interface MappedField {
  readonly 'field-id': number;
  readonly names: readonly string[];
  readonly fields?: readonly MappedField[];
}

const SCALARS: Record<string, string> = {
  string: 'string', double: 'double', int: 'int', bigint: 'long', boolean: 'boolean', date: 'date',
  // UTC instants: Iceberg's timestamptz, which its Parquet files hold as TIMESTAMP_MICROS (adjusted to UTC).
  timestamp: 'timestamptz',
};

/**
 * The Iceberg schema of `columns`, keeping the ids `previous` gave the same name paths and giving
 * new parts ids above `lastColumnId`. Returns the schema and the new last column id.
 */
export function icebergSchema(columns: readonly ColumnSpec[], schemaId: number, previous?: IcebergSchema, lastColumnId = 0): { schema: IcebergSchema; lastColumnId: number } {
  const known = new Map<string, number>();
  if (previous) collectIds(previous, '', known);
  let last = lastColumnId;
  const idOf = (path: string): number => known.get(path) ?? ++last;

  const typeOf = (column: ColumnSpec, path: string): IcebergType => {
    switch (column.type) {
      case 'decimal':
        return `decimal(${column.precision}, ${column.scale})`;
      case 'struct':
        return { type: 'struct', fields: fieldsOf(column.fields ?? [], `${path}.`) };
      case 'array': {
        const items = column.items!;
        const elementId = idOf(`${path}.element`);
        return { type: 'list', 'element-id': elementId, element: typeOf(items, `${path}.element`), 'element-required': !items.nullable };
      }
      case 'map': {
        const values = column.values!;
        const keyId = idOf(`${path}.key`);
        const valueId = idOf(`${path}.value`);
        return { type: 'map', 'key-id': keyId, key: 'string', 'value-id': valueId, value: typeOf(values, `${path}.value`), 'value-required': !values.nullable };
      }
      default:
        return SCALARS[column.type]!;
    }
  };
  // Top-level ids first, then the nested ones, as Iceberg numbers a new table.
  const fieldsOf = (specs: readonly ColumnSpec[], prefix: string): IcebergField[] => {
    const ids = specs.map((spec) => idOf(`${prefix}${spec.name}`));
    return specs.map((spec, i) => ({
      id: ids[i]!, name: spec.name, required: !spec.nullable, type: typeOf(spec, `${prefix}${spec.name}`), ...(spec.description ? { doc: spec.description } : {}),
    }));
  };
  const fields = fieldsOf(columns, '');
  return { schema: { type: 'struct', 'schema-id': schemaId, fields }, lastColumnId: last };
}

function collectIds(type: IcebergType, path: string, into: Map<string, number>): void {
  if (typeof type === 'string') return;
  if (type.type === 'struct') {
    for (const field of type.fields) {
      const fieldPath = `${path}${field.name}`;
      into.set(fieldPath, field.id);
      collectIds(field.type, `${fieldPath}.`, into);
    }
  } else if (type.type === 'list') {
    into.set(`${path}element`, type['element-id']);
    collectIds(type.element, `${path}element.`, into);
  } else {
    into.set(`${path}key`, type['key-id']);
    into.set(`${path}value`, type['value-id']);
    collectIds(type.value, `${path}value.`, into);
  }
}

/** Whether two schemas have the same fields, ids and types (their schema ids aside). */
export function sameFields(a: IcebergStruct, b: IcebergStruct): boolean {
  return JSON.stringify(a.fields) === JSON.stringify(b.fields);
}

/** The name mapping of a schema: how readers find each field id's column in files that carry names only. */
export function nameMapping(schema: IcebergStruct): MappedField[] {
  return schema.fields.map((field) => mapped(field.id, field.name, field.type));
}

function mapped(id: number, name: string, type: IcebergType): MappedField {
  const nested = nestedMapping(type);
  return nested ? { 'field-id': id, names: [name], fields: nested } : { 'field-id': id, names: [name] };
}

function nestedMapping(type: IcebergType): MappedField[] | undefined {
  if (typeof type === 'string') return undefined;
  if (type.type === 'struct') return type.fields.map((field) => mapped(field.id, field.name, field.type));
  if (type.type === 'list') return [mapped(type['element-id'], 'element', type.element)];
  return [mapped(type['key-id'], 'key', type.key), mapped(type['value-id'], 'value', type.value)];
}

/** The id of Iceberg's first partition field. */
export const FIRST_PARTITION_FIELD_ID = 1000;

/** A partition spec with one field: the event time's hour or day (hidden partitioning). */
export interface PartitionSpec {
  readonly 'spec-id': number;
  readonly fields: readonly { readonly name: string; readonly transform: PartitionBy; readonly 'source-id': number; readonly 'field-id': number }[];
}

export function partitionSpec(schema: IcebergStruct, eventTime: string, partitionBy: PartitionBy): PartitionSpec {
  const source = schema.fields.find((field) => field.name === eventTime);
  if (!source) throw new Error(`partitionSpec: the schema has no field ${eventTime}`);
  return { 'spec-id': 0, fields: [{ name: `${eventTime}_${partitionBy}`, transform: partitionBy, 'source-id': source.id, 'field-id': FIRST_PARTITION_FIELD_ID }] };
}

/** How Iceberg writes a partition value (hours or days since 1970, as the compactor's time buckets) in a data file's directory: `2026-11-27-10` for an hour, `2026-11-27` for a day. */
export function partitionPathValue(bucket: number, partitionBy: PartitionBy): string {
  const iso = new Date(bucket * bucketMillis(partitionBy)).toISOString();
  return partitionBy === 'hour' ? `${iso.slice(0, 10)}-${iso.slice(11, 13)}` : iso.slice(0, 10);
}
