import {
  AlreadyExistsException,
  ConcurrentModificationException,
  CreateTableCommand,
  EntityNotFoundException,
  GetTableCommand,
  GlueClient,
  UpdateTableCommand,
  type CreateTableCommandInput,
  type GetTableCommandInput,
  type Table,
  type UpdateTableCommandInput,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';

/** A Glue error as the SDK builds it from Glue's reply, sent `attempts` times. */
export function glueError<T>(Type: new (options: { message: string; $metadata: { attempts: number; httpStatusCode: number } }) => T, message: string, attempts = 1, httpStatusCode = 400): T {
  return new Type({ message, $metadata: { attempts, httpStatusCode } });
}

/**
 * One Glue database's tables in memory, behind an aws-sdk-client-mock stub of GlueClient, with the
 * behaviour the Iceberg catalog relies on: CreateTable of an existing name fails with
 * AlreadyExistsException; UpdateTable applies only at the table's current VersionId (and is refused
 * without one, so a test fails on an unconditional update) and otherwise fails with
 * ConcurrentModificationException; each update moves VersionId up by one. UpdateTable replaces the
 * table input, as Glue does. Every call yields to the event loop first, so concurrent callers interleave.
 */
export class FakeGlue {
  readonly database: string;
  readonly client = new GlueClient({ region: 'eu-west-1' });
  readonly mock = mockClient(this.client);
  readonly tables = new Map<string, Table>();
  private createGate: { waiting: number; writers: number; open: Promise<void>; release: () => void } | undefined;

  constructor(database: string) {
    this.database = database;
    this.mock.on(GetTableCommand).callsFake((input: GetTableCommandInput) => this.getTable(input));
    this.mock.on(CreateTableCommand).callsFake((input: CreateTableCommandInput) => this.createTable(input));
    this.mock.on(UpdateTableCommand).callsFake((input: UpdateTableCommandInput) => this.updateTable(input));
  }

  private async getTable(input: GetTableCommandInput) {
    await Promise.resolve();
    const table = input.DatabaseName === this.database ? this.tables.get(input.Name!) : undefined;
    if (!table) throw glueError(EntityNotFoundException, `Table ${input.Name} not found.`);
    return { Table: structuredClone(table) };
  }

  /**
   * Holds the next CreateTable calls until `writers` of them have arrived (or a second has passed),
   * so that many writers that all found no table race to create it.
   */
  raceNextCreates(writers: number): void {
    let release!: () => void;
    const open = new Promise<void>((resolve) => (release = resolve));
    setTimeout(release, 1000).unref();
    this.createGate = { waiting: 0, writers, open, release };
  }

  private async createTable(input: CreateTableCommandInput) {
    await Promise.resolve();
    const gate = this.createGate;
    if (gate) {
      if (++gate.waiting >= gate.writers) {
        this.createGate = undefined;
        gate.release();
      }
      await gate.open;
    }
    this.checkDatabase(input.DatabaseName);
    const name = input.TableInput!.Name!;
    if (this.tables.has(name)) throw glueError(AlreadyExistsException, 'Table already exists.');
    this.tables.set(name, { ...structuredClone(input.TableInput!), Name: name, DatabaseName: this.database, VersionId: '0' });
    return {};
  }

  private async updateTable(input: UpdateTableCommandInput) {
    await Promise.resolve();
    this.checkDatabase(input.DatabaseName);
    const name = input.TableInput!.Name!;
    const current = this.tables.get(name);
    if (!current) throw glueError(EntityNotFoundException, `Table ${name} not found.`);
    if (input.VersionId === undefined) throw new Error('FakeGlue: UpdateTable without VersionId would overwrite concurrent commits');
    if (input.VersionId !== current.VersionId) throw glueError(ConcurrentModificationException, 'Update table failed due to concurrent modifications.');
    this.tables.set(name, { ...structuredClone(input.TableInput!), Name: name, DatabaseName: this.database, VersionId: String(Number(current.VersionId) + 1) });
    return {};
  }

  private checkDatabase(database: string | undefined): void {
    if (database !== this.database) throw glueError(EntityNotFoundException, `Database ${database} not found.`);
  }
}
