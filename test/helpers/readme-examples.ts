import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const CLI = join(import.meta.dirname, '../../src/cli/main.ts');

/** The ```bash blocks of one `## ` section of a markdown text (its `###` subsections included), in order. */
export function bashBlocks(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start < 0) throw new Error(`the README has no section "## ${heading}"`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  const section = lines.slice(start, end < 0 ? undefined : end).join('\n');
  return [...section.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

/** One `npx streamlake …` line of an example, with the exit code its `# exit N` comment promises (0 without one). */
export interface ExampleCommand {
  readonly line: number;
  readonly text: string;
  readonly exitCode: number;
}

/** The `npx streamlake` commands of a block, in order. */
export function streamlakeCommands(block: string): ExampleCommand[] {
  return block.split('\n').flatMap((text, i) => (text.startsWith('npx streamlake ') ? [{ line: i + 1, text, exitCode: Number(/# exit (\d+)/.exec(text)?.[1] ?? 0) }] : []));
}

/** A `streamlake` call that an example made through the `npx` shim. */
export interface RecordedCall {
  readonly args: string;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * An `npx` on PATH that runs `npx streamlake …` as `node src/cli/main.ts …` of this checkout and
 * records each call (arguments, exit code, output) in `dir`; any other `npx` use fails.
 */
export function npxShim(dir: string): { env: NodeJS.ProcessEnv; calls: () => RecordedCall[] } {
  const bin = join(dir, 'bin');
  const log = join(dir, 'calls');
  mkdirSync(log, { recursive: true });
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'npx'),
    `#!/usr/bin/env bash
[ "$1" = streamlake ] || { echo "README example used npx $1, which the test does not provide" >&2; exit 127; }
shift
n=$(ls '${log}' | grep -c '\\.code$')
'${process.execPath}' '${CLI}' "$@" >'${log}'/$n.out 2>'${log}'/$n.err
code=$?
printf '%s' "$*" >'${log}'/$n.args; echo $code >'${log}'/$n.code
cat '${log}'/$n.out; cat '${log}'/$n.err >&2
exit $code
`,
  );
  chmodSync(join(bin, 'npx'), 0o755);
  const calls = () => {
    const result: RecordedCall[] = [];
    for (let n = 0; ; n++) {
      let code: string;
      try {
        code = readFileSync(join(log, `${n}.code`), 'utf8');
      } catch {
        return result;
      }
      result.push({ args: readFileSync(join(log, `${n}.args`), 'utf8'), code: Number(code), stdout: readFileSync(join(log, `${n}.out`), 'utf8'), stderr: readFileSync(join(log, `${n}.err`), 'utf8') });
    }
  };
  return { env: { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}` }, calls };
}
