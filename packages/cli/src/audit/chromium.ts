import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where a Chromium is looked for when `CHROME_PATH` is not set (Debian's package first). */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The flags a container without a GPU or a sandbox needs; no background traffic to skew a run. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `CHROME_PATH` if set (and then only it), else the first browser found; `null` when there is none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  const given = env.CHROME_PATH?.trim();
  if (given) return executable(given) ? given : null;
  return CANDIDATES.find(executable) ?? null;
}

export interface Chromium {
  /** The DevTools port Lighthouse connects to. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts a headless Chromium with its own profile directory and a DevTools
 * port chosen by the browser (port 0: no race for a free port), read from
 * the line it prints on stderr.
 */
export async function launchChromium(path: string, timeoutMs = 30_000): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'keel-audit-chromium-'));
  const child: ChildProcess = spawn(
    path,
    [...CHROMIUM_FLAGS, '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    // The browser's helper processes can still be writing the profile as the main one exits
    // (ENOTEMPTY); a temp directory left behind must not turn a finished audit into an error.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {}
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(
        () => reject(new Error(`${path} did not open its DevTools port within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${path} exited with ${code}: ${output.trim().split('\n').slice(-3).join(' ')}`));
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk;
        const match = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    // Later stderr lines are the browser's own chatter: read and dropped, so its pipe never fills.
    child.stderr!.resume();
    return { port, close };
  } catch (error) {
    await close();
    throw error;
  }
}
