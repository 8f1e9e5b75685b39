/**
 * The README's walkthrough, read from the README itself: every fenced block
 * after a `<!-- walkthrough: KIND -->` comment is a step, in document order.
 *
 * - `start`: a `VAR=value … pnpm start` line; the app is (re)started with that environment.
 * - `run`: shell commands, run with bash from the repository root.
 * - `expect`: what the `run` block before it prints.
 * - `log`: lines the app prints (in this order, other lines in between) since it started.
 *
 * An expected block is real output with three conventions, which the README states:
 * a line `...` stands for any number of lines; `<words>` stands for text that changes
 * from run to run (an id, a time, a port); a number with decimals is a measurement
 * and matches any number. Whole numbers — counts, targets, states' scores — match exactly.
 */
export type StepKind = 'start' | 'run' | 'expect' | 'log';

export interface Step {
  readonly kind: StepKind;
  readonly text: string;
  /** 1-based line of the block's first line in the README, for messages. */
  readonly line: number;
}

const MARKER = /^<!-- walkthrough: (start|run|expect|log) -->$/;

export function walkthroughSteps(markdown: string): Step[] {
  const lines = markdown.split('\n');
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i]!.trim());
    if (!marker) continue;
    const open = lines[i + 1]?.trim() ?? '';
    if (!open.startsWith('```'))
      throw new Error(`README line ${i + 1}: a walkthrough marker not followed by a block`);
    const end = lines.findIndex((l, j) => j > i + 1 && l.trim() === '```');
    if (end < 0) throw new Error(`README line ${i + 2}: an unclosed block`);
    steps.push({ kind: marker[1] as StepKind, text: lines.slice(i + 2, end).join('\n'), line: i + 3 });
    i = end;
  }
  return steps;
}

/** The environment a `start` block sets, from `A=1 B=2 \` lines ending in `pnpm start`. */
export function startEnvironment(step: Step): Record<string, string> {
  const words = step.text.replace(/\\\n/g, ' ').replace(/#.*$/gm, '').trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]!); i++) {
    const [name, ...value] = words[i]!.split('=');
    env[name!] = value.join('=');
  }
  if (words.slice(i).join(' ') !== 'pnpm start')
    throw new Error(`README line ${step.line}: a start block must be "VAR=value ... pnpm start"`);
  return env;
}

const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One expected line as a regular expression, by the conventions above. */
export function linePattern(expected: string): RegExp {
  let source = '';
  const token = /<[^<>\n]+>|-?\d+\.\d+/g;
  let last = 0;
  for (const match of expected.trimEnd().matchAll(token)) {
    source += literal(expected.slice(last, match.index));
    source += match[0].startsWith('<') ? '.+?' : '-?\\d+(?:\\.\\d+)?';
    last = match.index! + match[0].length;
  }
  source += literal(expected.trimEnd().slice(last));
  return new RegExp(`^${source}\\s*$`);
}

const isGap = (line: string) => line.trim() === '...' || line.trim() === '…';

/**
 * Whether `actual` shows `expected`: line by line, `...` skipping any lines;
 * `between` lets other lines come between the expected ones (an app's log).
 * Returns `null` when it does, else what did not match.
 */
export function mismatch(expected: string, actual: string, between = false): string | null {
  const want = expected.split('\n').filter((l) => l.trim() !== '');
  const have = actual.split('\n').filter((l) => l.trim() !== '');
  let h = 0;
  let gap = between;
  for (const line of want) {
    if (isGap(line)) {
      gap = true;
      continue;
    }
    const pattern = linePattern(line);
    let found = -1;
    for (let j = h; j < have.length; j++) {
      if (pattern.test(have[j]!)) {
        found = j;
        break;
      }
      if (!gap) break;
    }
    if (found < 0)
      return `expected a line like\n  ${line}\n${h < have.length ? `got\n  ${have[h]}` : 'got no more lines'}`;
    h = found + 1;
    gap = between;
  }
  if (!gap && !between && h < have.length) return `unexpected line\n  ${have[h]}`;
  return null;
}
