/**
 * Top-level sections of a Keel config file that are for tools, not for the
 * engine: `createKeel` accepts them unread, `defineConfig` validates them.
 */
export const CONFIG_FILE_SECTIONS: ReadonlySet<string> = new Set(['shutdown', 'prometheus', 'kubernetes']);
