#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, terminate } from '../jvm.ts';
import { BrokerError, KAFKA_VERSION, startBroker } from './broker.ts';

/**
 * `npm run kafka:start` / `npm run kafka:stop`: a broker for people, left running between commands.
 * Its pid, addresses and directory are kept in `.streamlake-kafka/broker.json` so `stop` finds it.
 */

const STATE_DIR = fileURLToPath(new URL('../../.streamlake-kafka/', import.meta.url));
const STATE_FILE = join(STATE_DIR, 'broker.json');

interface BrokerState {
  readonly pid: number;
  readonly bootstrap: string;
  readonly saslBootstrap: string;
  readonly dir: string;
}

async function readState(): Promise<BrokerState | undefined> {
  if (!existsSync(STATE_FILE)) return undefined;
  return JSON.parse(await readFile(STATE_FILE, 'utf8')) as BrokerState;
}

function describe(state: BrokerState): string {
  return [
    `  PLAINTEXT       ${state.bootstrap}    try: npx streamlake local --kafka ${state.bootstrap}`,
    `  SASL_PLAINTEXT  ${state.saslBootstrap}    OAUTHBEARER, unsecured JWT (any principal)`,
    `  log             ${join(state.dir, 'broker.log')}`,
    '  stop it with    npm run kafka:stop',
  ].join('\n');
}

async function start(): Promise<void> {
  const existing = await readState();
  if (existing && isAlive(existing.pid)) {
    console.log(`Apache Kafka is already running (pid ${existing.pid}):\n${describe(existing)}`);
    return;
  }
  console.log(`starting Apache Kafka ${KAFKA_VERSION} (KRaft, one node); the first run fetches its jars with Maven`);
  const broker = await startBroker({ detached: true });
  const state: BrokerState = { pid: broker.pid, bootstrap: broker.bootstrap, saslBootstrap: broker.saslBootstrap, dir: broker.dir };
  await mkdir(STATE_DIR, { recursive: true });
  await writeFile(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
  const { jarsMs, formatMs, startMs } = broker.timings;
  console.log(`Apache Kafka ${KAFKA_VERSION} is running (pid ${broker.pid}; jars ${seconds(jarsMs)}, format ${seconds(formatMs)}, start ${seconds(startMs)}):\n${describe(state)}`);
}

async function stop(): Promise<void> {
  const state = await readState();
  if (!state) {
    console.log('no broker started by npm run kafka:start is running');
    return;
  }
  await terminate(state.pid);
  await rm(state.dir, { recursive: true, force: true });
  await rm(STATE_DIR, { recursive: true, force: true });
  console.log(`stopped Apache Kafka (pid ${state.pid}) and deleted its data`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

const commands: Record<string, () => Promise<void>> = { start, stop };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error('usage: node tools/kafka/cli.ts start|stop');
  process.exitCode = 2;
} else {
  try {
    await command();
  } catch (error) {
    if (!(error instanceof BrokerError)) throw error;
    console.error(`kafka: ${error.message}`);
    process.exitCode = 1;
  }
}
