import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The example as `pnpm start` runs it (tsx, its own PostgreSQL: DATABASE_URL
// or an embedded one). The root tsconfig maps @keel/* to the sources, like
// every other test: no build needed.
const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const sources = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));

export interface Started {
  /** tsx, which runs the app in a child process of its own and passes SIGTERM and SIGINT on. */
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /**
   * SIGTERM goes to tsx, which passes it on (a second one would make the app exit at once);
   * SIGKILL goes to the whole process group: tsx cannot pass it on, and the app (and its
   * embedded PostgreSQL) would live on without it.
   */
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

/** Starts `src/main.ts` on a free port with `env` added, and resolves once it listens. */
export function startExample(env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(tsx, ['--tsconfig', sources, 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', KEEL_PRESTOP_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, so a kill reaches everything it started.
    detached: true,
  });
  const kill = (signal: 'SIGTERM' | 'SIGKILL') => {
    if (signal === 'SIGTERM') child.kill('SIGTERM');
    else if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`studio-api did not start:\n${output}`)), 60_000);
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, base: match[1]!.replace('localhost', '127.0.0.1'), output: () => output, kill });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`studio-api exited with ${code}:\n${output}`));
    });
  });
}
