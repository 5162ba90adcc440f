import { fileURLToPath } from 'node:url';
import {
  AccessDeniedException,
  AlreadyExistsException,
  ConcurrentModificationException,
  CreateTableCommand,
  EntityNotFoundException,
  GetTableCommand,
  GlueClient,
  InternalServiceException,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { GlueCatalog, GlueCatalogError, glueColumns } from '../../../lambdas/adapters/glue-catalog.ts';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { StoreCatalog } from '../../../lambdas/adapters/store-catalog.ts';
import { loadTables, tableNamed } from '../../../lambdas/adapters/table-directory.ts';
import { glueType } from '../../../lambdas/core/schema.ts';
import { tableColumns } from '../../../lambdas/core/table-declaration.ts';
import type { TableCatalog } from '../../../lambdas/ports/table-catalog.ts';
import { tempDir } from '../../helpers/lake.ts';
import { FakeGlue, glueError } from '../handlers/fake-glue.ts';

const TABLES = loadTables(fileURLToPath(new URL('../../fixtures/tables-iceberg', import.meta.url)));
const CLICKS = tableNamed(TABLES, 'clicks');
const DATABASE = 'streamlake';
const LAKE = 's3://lake-bucket/';
const LOCATION = `${LAKE}curated/clicks`;
const V1 = `${LOCATION}/metadata/00001-a.metadata.json`;
const V2 = `${LOCATION}/metadata/00002-b.metadata.json`;

/** A Glue table as GetTable returns one the catalog committed. */
function icebergTable(metadataLocation: string, versionId: string, extra: Record<string, string> = {}) {
  return { Table: { Name: 'clicks', DatabaseName: DATABASE, VersionId: versionId, TableType: 'EXTERNAL_TABLE', Parameters: { ...extra, table_type: 'ICEBERG', metadata_location: metadataLocation } } };
}

describe('Glue catalog', () => {
  const glue = mockClient(GlueClient);
  const catalog = () => new GlueCatalog(new GlueClient({ region: 'eu-west-1' }), { database: DATABASE, lakeUri: LAKE, tables: TABLES.tables });
  afterEach(() => glue.reset());

  it('reads a table\'s metadata location and Glue version with one GetTable', async () => {
    glue.on(GetTableCommand).resolves(icebergTable(V1, '7'));
    expect(await catalog().get('clicks')).toEqual({ metadataLocation: V1, version: '7' });
    expect(glue.commandCalls(GetTableCommand).map((c) => c.args[0].input)).toEqual([{ DatabaseName: DATABASE, Name: 'clicks' }]);
  });

  it('has no entry for a table Glue does not know', async () => {
    glue.on(GetTableCommand).rejects(glueError(EntityNotFoundException, 'Table clicks not found.'));
    expect(await catalog().get('clicks')).toBeUndefined();
  });

  it('refuses a Hive table of the same name, saying what is in the way', async () => {
    glue.on(GetTableCommand).resolves({ Table: { Name: 'clicks', VersionId: '0', Parameters: { classification: 'parquet' } } });
    await expect(catalog().get('clicks')).rejects.toThrow(GlueCatalogError);
    await expect(catalog().get('clicks')).rejects.toThrow(/streamlake\.clicks is not an Iceberg table.*Hive table of the same name/);
  });

  it('creates the table at its first commit: an external Iceberg table at its curated prefix, with the declared columns', async () => {
    glue.on(CreateTableCommand).resolves({});
    expect(await catalog().swap('clicks', V1, undefined)).toBe(true);
    const [input] = glue.commandCalls(CreateTableCommand).map((c) => c.args[0].input);
    expect(input).toEqual({
      DatabaseName: DATABASE,
      TableInput: {
        Name: 'clicks',
        Description: expect.stringContaining('Apache Iceberg table of topic web-clicks'),
        TableType: 'EXTERNAL_TABLE',
        Parameters: { table_type: 'ICEBERG', metadata_location: V1 },
        StorageDescriptor: { Location: LOCATION, Columns: glueColumns(CLICKS) },
      },
    });
    expect(input!.TableInput!.StorageDescriptor!.Columns!.map((c) => [c.Name, c.Type])).toEqual(tableColumns(CLICKS).map((c) => [c.name, glueType(c)]));
    expect(glue.commandCalls(UpdateTableCommand)).toEqual([]);
  });

  it('loses a create race to a table another writer created first', async () => {
    glue.on(CreateTableCommand).rejects(glueError(AlreadyExistsException, 'Table already exists.'));
    expect(await catalog().swap('clicks', V1, undefined)).toBe(false);
  });

  it('commits with an UpdateTable at the version it read, naming the previous metadata and keeping others\' parameters', async () => {
    glue.on(GetTableCommand).resolves(icebergTable(V1, '7', { 'owner.note': 'kept' }));
    glue.on(UpdateTableCommand).resolves({});
    const glueCatalog = catalog();
    const entry = await glueCatalog.get('clicks');
    expect(await glueCatalog.swap('clicks', V2, entry)).toBe(true);
    expect(glue.commandCalls(UpdateTableCommand).map((c) => c.args[0].input)).toEqual([
      {
        DatabaseName: DATABASE,
        VersionId: '7',
        SkipArchive: true,
        TableInput: {
          Name: 'clicks',
          Description: expect.any(String),
          TableType: 'EXTERNAL_TABLE',
          Parameters: { 'owner.note': 'kept', table_type: 'ICEBERG', metadata_location: V2, previous_metadata_location: V1 },
          StorageDescriptor: { Location: LOCATION, Columns: glueColumns(CLICKS) },
        },
      },
    ]);
    expect(glue.commandCalls(CreateTableCommand)).toEqual([]);
  });

  it('loses an update race when Glue finds the table moved past the version it read', async () => {
    glue.on(UpdateTableCommand).rejects(glueError(ConcurrentModificationException, 'Update table failed due to concurrent modifications.'));
    expect(await catalog().swap('clicks', V2, { metadataLocation: V1, version: '7' })).toBe(false);
    // A lost race sent once is lost: no second look at the table.
    expect(glue.commandCalls(GetTableCommand)).toEqual([]);
  });

  it('wins when the SDK resent an update whose first send landed, and loses when the table points elsewhere', async () => {
    glue.on(UpdateTableCommand).rejects(glueError(ConcurrentModificationException, 'Update table failed due to concurrent modifications.', 2));
    glue.on(GetTableCommand).resolvesOnce(icebergTable(V2, '8')).resolvesOnce(icebergTable(`${LOCATION}/metadata/00002-other.metadata.json`, '8'));
    expect(await catalog().swap('clicks', V2, { metadataLocation: V1, version: '7' })).toBe(true);
    expect(await catalog().swap('clicks', V2, { metadataLocation: V1, version: '7' })).toBe(false);
  });

  it('wins when the SDK resent a create whose first send landed', async () => {
    glue.on(CreateTableCommand).rejects(glueError(AlreadyExistsException, 'Table already exists.', 3));
    glue.on(GetTableCommand).resolves(icebergTable(V1, '0'));
    expect(await catalog().swap('clicks', V1, undefined)).toBe(true);
  });

  it.each([
    ['GetTable', () => glue.on(GetTableCommand).rejects(glueError(AccessDeniedException, 'not authorized to perform glue:GetTable', 1, 403)), (c: GlueCatalog) => c.get('clicks')],
    ['CreateTable', () => glue.on(CreateTableCommand).rejects(glueError(InternalServiceException, 'Internal failure', 3, 500)), (c: GlueCatalog) => c.swap('clicks', V1, undefined)],
    ['UpdateTable', () => glue.on(UpdateTableCommand).rejects(glueError(AccessDeniedException, 'not authorized to perform glue:UpdateTable', 1, 403)), (c: GlueCatalog) => c.swap('clicks', V2, { metadataLocation: V1, version: '7' })],
  ])('lets any other %s failure through', async (_, fail, call) => {
    fail();
    await expect(call(catalog())).rejects.toThrow(/not authorized|Internal failure/);
  });

  it('refuses to create a table it has no declaration of', async () => {
    await expect(catalog().swap('payments', V1, undefined)).rejects.toThrow(/no declaration of table payments/);
    expect(glue.commandCalls(CreateTableCommand)).toEqual([]);
  });
});

/** What every TableCatalog does: a pointer that moves only from the entry it was read at. */
function catalogContract(name: string, open: () => { catalog: TableCatalog; close?: () => void }) {
  describe(`${name}: table catalog contract`, () => {
    it('creates a table once, then moves it only from the entry a writer read', async () => {
      const { catalog, close } = open();
      try {
        expect(await catalog.get('clicks')).toBeUndefined();
        expect(await catalog.swap('clicks', V1, undefined)).toBe(true);
        expect(await catalog.swap('clicks', 'other', undefined)).toBe(false);
        const first = await catalog.get('clicks');
        expect(first?.metadataLocation).toBe(V1);
        expect(await catalog.swap('clicks', V2, first)).toBe(true);
        expect(await catalog.swap('clicks', 'stale', first)).toBe(false);
        expect((await catalog.get('clicks'))?.metadataLocation).toBe(V2);
      } finally {
        close?.();
      }
    });

    it('lets exactly one of two writers that read the same entry commit', async () => {
      const { catalog, close } = open();
      try {
        await catalog.swap('clicks', V1, undefined);
        const seen = await catalog.get('clicks');
        const results = await Promise.all(['a', 'b'].map((writer) => catalog.swap('clicks', `${LOCATION}/metadata/00002-${writer}.metadata.json`, seen)));
        expect(results.filter(Boolean)).toHaveLength(1);
      } finally {
        close?.();
      }
    });
  });
}

catalogContract('GlueCatalog over Glue', () => ({ catalog: new GlueCatalog(new FakeGlue(DATABASE).client, { database: DATABASE, lakeUri: LAKE, tables: TABLES.tables }) }));
catalogContract('StoreCatalog over a local directory', () => {
  const dir = tempDir();
  return { catalog: new StoreCatalog(new LocalDirectoryStore(dir.path)), close: () => dir.remove() };
});
