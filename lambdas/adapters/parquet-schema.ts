import type { FieldRepetitionType, SchemaElement } from 'hyparquet';
import type { ColumnSpec, ScalarType } from '../core/schema.ts';
import type { TimestampUnit } from '../ports/parquet.ts';

/** The Parquet type of a leaf column: physical type, and the annotations engines read it by. */
export type Physical = Required<Pick<SchemaElement, 'type'>> & Pick<SchemaElement, 'type_length' | 'converted_type' | 'logical_type' | 'precision' | 'scale'>;

const PHYSICAL: Record<ScalarType, Physical> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  double: { type: 'DOUBLE' },
  int: { type: 'INT32' },
  bigint: { type: 'INT64' },
  boolean: { type: 'BOOLEAN' },
  date: { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
  // Legacy TIMESTAMP_MILLIS: Athena (Trino) and DuckDB both read it as a plain `timestamp`.
  timestamp: { type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' },
};

// Legacy TIMESTAMP_MICROS (adjusted to UTC, as TIMESTAMP_MILLIS): what Iceberg's timestamptz is stored as.
const TIMESTAMP_MICROS: Physical = { type: 'INT64', converted_type: 'TIMESTAMP_MICROS' };

/** The Parquet type of a column the flat encoder writes (a scalar). */
export function physicalOf(column: ColumnSpec, timestampUnit: TimestampUnit = 'millis'): Physical {
  if (column.type === 'timestamp' && timestampUnit === 'micros') return TIMESTAMP_MICROS;
  const physical = PHYSICAL[column.type as ScalarType];
  if (!physical) throw new TypeError(`${column.name} is a ${column.type} column: the nested-column writer writes it`);
  return physical;
}

/**
 * A DECIMAL(P,S) in the narrowest physical type the Parquet spec allows for its precision, which
 * DuckDB, Trino (Athena) and pyarrow all read: INT32 up to 9 digits, INT64 up to 18, beyond that a
 * FIXED_LEN_BYTE_ARRAY of the fewest bytes whose two's complement holds 10^P - 1 (9 bytes for 19
 * digits, 16 for 38).
 */
function decimalPhysical(precision: number, scale: number): Physical {
  const annotation = { converted_type: 'DECIMAL', logical_type: { type: 'DECIMAL', precision, scale }, precision, scale } as const;
  if (precision <= 9) return { type: 'INT32', ...annotation };
  if (precision <= 18) return { type: 'INT64', ...annotation };
  let bytes = 8;
  while (2n ** BigInt(8 * bytes - 1) < 10n ** BigInt(precision)) bytes++;
  return { type: 'FIXED_LEN_BYTE_ARRAY', type_length: bytes, ...annotation };
}

/**
 * The file schema of `columns`, depth first as Parquet lists it: a struct is a group of its
 * fields; an array the standard three-level LIST (`<name> (LIST) { repeated group list { element } }`);
 * a map the standard MAP (`<name> (MAP) { repeated group key_value { required key (UTF8); value } }`),
 * which DuckDB, Trino and pyarrow read as STRUCT, array and MAP types.
 */
export function schemaOf(columns: readonly ColumnSpec[], timestampUnit: TimestampUnit = 'millis'): SchemaElement[] {
  const elementsOf = (column: ColumnSpec): SchemaElement[] => columnElements(column, elementsOf, timestampUnit);
  return [{ name: 'root', num_children: columns.length }, ...columns.flatMap(elementsOf)];
}

function columnElements(column: ColumnSpec, elementsOf: (column: ColumnSpec) => SchemaElement[], timestampUnit: TimestampUnit): SchemaElement[] {
  const { name } = column;
  const repetition_type: FieldRepetitionType = column.nullable ? 'OPTIONAL' : 'REQUIRED';
  switch (column.type) {
    case 'struct':
      return [{ name, repetition_type, num_children: column.fields!.length }, ...column.fields!.flatMap((field) => elementsOf(field))];
    case 'array':
      return [
        { name, repetition_type, converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        ...elementsOf(column.items!),
      ];
    case 'map':
      return [
        { name, repetition_type, converted_type: 'MAP', logical_type: { type: 'MAP' }, num_children: 1 },
        { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
        { name: 'key', repetition_type: 'REQUIRED', ...PHYSICAL.string },
        ...elementsOf(column.values!),
      ];
    case 'decimal':
      return [{ name, repetition_type, ...decimalPhysical(column.precision!, column.scale!) }];
    default:
      return [{ name, repetition_type, ...physicalOf(column, timestampUnit) }];
  }
}
