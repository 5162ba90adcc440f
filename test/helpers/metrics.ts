import { vi } from 'vitest';

/** The CloudWatch metrics the handlers published, read back from their EMF documents on stdout. */
export interface CapturedMetrics {
  /** Every value published under `name`, in order. */
  values(name: string): number[];
  /** The EMF documents that published `name`: its value and the dimensions' values are their properties. */
  documents(name: string): Record<string, unknown>[];
  /** Stops capturing: stdout writes go through again. */
  restore(): void;
}

/**
 * Captures the Embedded Metric Format documents Powertools Metrics prints on stdout (one JSON line
 * per flush, with an `_aws.CloudWatchMetrics` header) and keeps them off the test output. Other
 * writes pass through. The handlers' Metrics must be enabled: POWERTOOLS_METRICS_DISABLED unset or
 * 'false' when their module loads.
 */
export function captureMetrics(): CapturedMetrics {
  const documents: Record<string, unknown>[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const document = emfDocument(text);
    if (document === undefined) return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    documents.push(document);
    return true;
  }) as typeof process.stdout.write);
  return {
    values: (name) => documents.filter((document) => isMetricOf(document, name)).map((document) => document[name] as number),
    documents: (name) => documents.filter((document) => isMetricOf(document, name)),
    restore: () => spy.mockRestore(),
  };
}

function emfDocument(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{"_aws"')) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function isMetricOf(document: Record<string, unknown>, name: string): boolean {
  const header = document._aws as { CloudWatchMetrics?: { Metrics?: { Name: string }[] }[] } | undefined;
  return header?.CloudWatchMetrics?.some((directive) => directive.Metrics?.some((metric) => metric.Name === name)) ?? false;
}
