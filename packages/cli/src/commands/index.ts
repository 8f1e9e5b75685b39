import type { Command } from '../cli/command.js';
import { rules } from './rules.js';

/** Every `keel` subcommand, in the order `keel --help` lists them. A new command: one file, one line here. */
export const COMMANDS: readonly Command[] = [rules];
