import { invalidOptionOf } from '@keel/core';
import { isMap, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { UsageError } from './usage-error.js';

/**
 * Parses YAML (and JSON, a subset of it). A key given twice is an error
 * naming its path — `budgets.api_latency` defined twice is two budgets with
 * one name, and JSON.parse would silently keep the last.
 */
export function parseYaml(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: false, lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    const at = lineCounter.linePos(error.pos[0]);
    throw new UsageError(`${file}:${at.line}:${at.col}: ${error.message.split('\n')[0]}`);
  }
  visit(document, {
    Map(_, map, path) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (seen.has(key)) {
          const where = [...keysOf(path), key].join('.');
          throw invalidOptionOf(
            'keel config',
            where,
            'is defined twice; names must be unique (rename or remove one)',
            key,
          );
        }
        seen.add(key);
      }
    },
  });
  return document.toJS();
}

/** The keys leading to a node, from the visitor's ancestor path (maps and their pairs). */
function keysOf(path: readonly unknown[]): string[] {
  const keys: string[] = [];
  for (const node of path) {
    if (isMap(node)) continue;
    const pair = node as { key?: unknown };
    if (pair && typeof pair === 'object' && 'key' in pair) {
      keys.push(isScalar(pair.key) ? String(pair.key.value) : String(pair.key));
    }
  }
  return keys;
}
