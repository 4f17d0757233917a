import type { RunOptions, RunResult, Runner } from '../../src/util/runner.js';

export interface Recorded {
  runner: Runner;
  /** Each call as one line: command and arguments joined by spaces. */
  lines: string[];
  clear(): void;
}

/** Answers each command with `respond` (exit 0, no output by default) and records it. */
export function recordingRunner(
  respond: (line: string, cmd: string, args: string[], opts: RunOptions) => Partial<RunResult> | undefined | Promise<Partial<RunResult> | undefined> = () => undefined,
): Recorded {
  const lines: string[] = [];
  return {
    lines,
    clear: () => void lines.splice(0),
    runner: async (cmd, args, opts = {}) => {
      const line = [cmd, ...args].join(' ');
      lines.push(line);
      return { code: 0, stdout: '', stderr: '', ...(await respond(line, cmd, args, opts)) };
    },
  };
}
