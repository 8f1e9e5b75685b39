import type { Command } from '../cli/command.js';
import { audit } from './audit.js';
import { dashboard } from './dashboard.js';
import { k8s } from './k8s.js';
import { loadtest } from './loadtest.js';
import { optimise } from './optimise.js';
import { rules } from './rules.js';
import { slo } from './slo.js';

/** Every `keel` subcommand, in the order `keel --help` lists them. A new command: one file, one line here. */
export const COMMANDS: readonly Command[] = [rules, k8s, dashboard, slo, audit, optimise, loadtest];
