import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, terminate } from '../jvm.ts';
import { BrokerError, launchNode, type NodePorts } from './server.ts';

/** One node of the cluster: a broker and a controller in one JVM. */
export interface ClusterNode {
  /** `node.id`: what partition metadata calls leaders and replicas. */
  readonly id: number;
  /** PLAINTEXT listener, `localhost:<port>`. */
  readonly bootstrap: string;
  /** SASL_PLAINTEXT listener (OAUTHBEARER, unsecured JWT validator), `localhost:<port>`. */
  readonly saslBootstrap: string;
  /** The node's configuration, data and `broker.log`. */
  readonly dir: string;
  /** The JVM's pid; undefined while the node is down. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Crashes the node (SIGKILL: no controlled shutdown, no flush); resolves once the process is gone. */
  kill(): Promise<void>;
  /** Shuts the node down cleanly (SIGTERM: controlled shutdown moves its leaderships first). */
  stop(): Promise<void>;
  /** Starts the node again on the same ports and data; resolves once it answers (it may still be catching up: see `Cluster.restoreHealth`). */
  start(): Promise<void>;
}

/** Where a node lives and how its JVM is launched. */
export interface NodeSpec {
  readonly id: number;
  readonly ports: NodePorts;
  /** The node's configuration, data and `broker.log`. */
  readonly dir: string;
  /** The cluster's directory, deleted if this process exits with the node running. */
  readonly ownerDir: string;
  readonly classpath: string;
  readonly jvmOptions: readonly string[];
  /** How long a start may take before it fails. */
  readonly timeoutMs: number;
}

/** A node of `startCluster`'s cluster, up or down: `start()` launches its JVM on its ports and data. */
export class KafkaNode implements ClusterNode {
  readonly id: number;
  readonly ports: NodePorts;
  readonly dir: string;
  private readonly spec: NodeSpec;
  private current: number | undefined;

  constructor(spec: NodeSpec) {
    this.spec = spec;
    this.id = spec.id;
    this.ports = spec.ports;
    this.dir = spec.dir;
  }

  get bootstrap(): string {
    return `localhost:${this.ports.plaintext}`;
  }

  get saslBootstrap(): string {
    return `localhost:${this.ports.sasl}`;
  }

  get pid(): number | undefined {
    return this.current;
  }

  get running(): boolean {
    return this.current !== undefined && isAlive(this.current);
  }

  async kill(): Promise<void> {
    const pid = this.current;
    if (pid === undefined) return;
    this.current = undefined;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    while (isAlive(pid)) await sleep(20);
    await terminate(pid); // the process is gone: this only drops it from the JVMs killed on exit
  }

  async stop(): Promise<void> {
    const pid = this.current;
    if (pid === undefined) return;
    this.current = undefined;
    await terminate(pid);
  }

  async start(): Promise<void> {
    if (this.running) throw new BrokerError(`node ${this.id} is already running (pid ${this.current})`);
    this.current = await launchNode({
      classpath: this.spec.classpath,
      dir: this.dir,
      ownerDir: this.spec.ownerDir,
      jvmOptions: this.spec.jvmOptions,
      bootstrap: this.bootstrap,
      product: `Kafka cluster node ${this.id}`,
      timeoutMs: this.spec.timeoutMs,
      detached: false,
    });
  }
}
