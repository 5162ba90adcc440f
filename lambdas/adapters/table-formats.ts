import { hiveParquetFormat } from '../core/hive-table.ts';
import type { TableSpec } from '../core/table-declaration.ts';
import type { TableFormat } from '../ports/table-format.ts';
import { IcebergTable, type IcebergTableDeps } from './iceberg-table.ts';

/** The format a table's declaration names, over the lake's store and, for Iceberg, its catalog. */
export function tableFormatOf(table: TableSpec, deps: IcebergTableDeps): TableFormat {
  return table.format === 'iceberg' ? new IcebergTable(deps, table) : hiveParquetFormat(table);
}
