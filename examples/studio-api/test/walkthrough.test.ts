import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type Started, startStudioApi, waitFor } from './support/processes.js';
import { mismatch, type Step, startEnvironment, walkthroughSteps } from './support/walkthrough.js';

// The README's walkthrough and monitor story, run as a reader runs them: in order, each
// command as written, against the app started as written (support/walkthrough.ts says how
// the README marks them). What differs from a reader's terminal, and nothing else:
// - the app listens on a free port, so `localhost:3000` in a command is that port;
// - its state directory (`.keel` in examples/studio-api) is a fresh one, under a temporary
//   `examples/studio-api/.keel`, as on a fresh clone; commands that read it are pointed there;
// - the URL of the embedded PostgreSQL in a command is the one this app printed;
// - the app runs as `pnpm start` runs it after its build (support/processes.ts), with no
//   DATABASE_URL, so with its embedded PostgreSQL.
const repository = fileURLToPath(new URL('../../..', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const steps = walkthroughSteps(readme);
const scratch = mkdtempSync(join(tmpdir(), 'studio-walkthrough-'));
const stateDir = join(scratch, 'examples/studio-api/.keel');
mkdirSync(stateDir, { recursive: true });

const EMBEDDED_URL = /postgres:\/\/postgres:studio@127\.0\.0\.1:\d+\/postgres/g;

let app: (Started & { base: string }) | undefined;
/** App output from its start, the embedded PostgreSQL's URL it printed, the last command's output. */
let databaseUrl = '';
let lastOutput: string | undefined;

function command(text: string): string {
  if (!app) throw new Error('a command before the app was started');
  return text
    .replaceAll('localhost:3000', new URL(app.base).host)
    .replaceAll('examples/studio-api/.keel', stateDir)
    .replace(EMBEDDED_URL, databaseUrl);
}

/** An expected output: the state directory's path ends as a reader's does (…/examples/studio-api/.keel). */
function expected(text: string): string {
  if (!app) throw new Error('an output before the app was started');
  return text.replaceAll('localhost:3000', new URL(app.base).host).replace(EMBEDDED_URL, databaseUrl);
}

function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: repository, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Ctrl-C, as the README asks before each new start; resolves once the app has exited. */
async function interrupt(): Promise<void> {
  if (!app) return;
  const { child } = app;
  app = undefined;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function start(step: Step): Promise<void> {
  await interrupt();
  app = await startStudioApi({ ...startEnvironment(step), KEEL_MONITOR_DIR: stateDir, DATABASE_URL: '' });
  // The start-up lines end with the monitor's; a reader sees them all before the first command.
  const started = app;
  await waitFor('the start-up lines', async () => (/^monitor: /m.test(started.output()) ? true : undefined));
  const url = /postgres: embedded \(no DATABASE_URL set\) at (\S+)/.exec(app.output())?.[1];
  if (!url) throw new Error(`the app printed no embedded PostgreSQL URL:\n${app.output()}`);
  databaseUrl = url;
  lastOutput = undefined;
}

async function runStep(step: Step): Promise<void> {
  const { code, stdout, stderr } = await run(command(step.text));
  if (code !== 0) throw new Error(`exit ${code}\n${stdout}${stderr}`);
  lastOutput = stdout;
  console.log(`README line ${step.line}:\n${stdout.split('\n').slice(0, 12).join('\n')}`);
}

function checkOutput(step: Step): void {
  if (lastOutput === undefined) throw new Error('an expected output with no command before it');
  const problem = mismatch(expected(step.text), lastOutput);
  expect(problem, `README line ${step.line}: the output was\n${lastOutput}`).toBeNull();
}

/** The app's log since it started shows these lines, in order; waits for them up to 60 s. */
async function checkLog(step: Step): Promise<void> {
  const lines = expected(step.text);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const problem = mismatch(lines, app?.output() ?? '', true);
    if (problem === null) return;
    if (Date.now() > deadline)
      throw new Error(
        `README line ${step.line}: the app's log does not show it: ${problem}\n${app?.output()}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

afterAll(async () => {
  await interrupt();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the example README, followed in order', () => {
  it('has a walkthrough: starts, commands and the outputs they show', () => {
    expect(steps.filter((s) => s.kind === 'start').length).toBeGreaterThanOrEqual(2);
    expect(steps.filter((s) => s.kind === 'expect').length).toBeGreaterThanOrEqual(10);
    // Each expected output follows the command that prints it.
    for (const [i, step] of steps.entries())
      if (step.kind === 'expect') expect(steps[i - 1]?.kind, `README line ${step.line}`).toBe('run');
  });

  for (const step of steps) {
    const first = step.text.split('\n')[0]!.slice(0, 70);
    it(`README line ${step.line}, ${step.kind}: ${first}`, async () => {
      if (step.kind === 'start') await start(step);
      else if (step.kind === 'run') await runStep(step);
      else if (step.kind === 'expect') checkOutput(step);
      else await checkLog(step);
    }, 180_000);
  }
});
