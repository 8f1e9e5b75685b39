/**
 * The catalog queries the advisor runs. Read-only; they work on PostgreSQL 13
 * and later (pg_stat_statements' `*_exec_time` columns arrived in 13).
 */

export const SERVER_SQL = `
SELECT current_database() AS database,
       current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       current_setting('shared_preload_libraries') AS preload,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved_connections,
       (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections,
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset`;

export const EXTENSIONS_SQL = `
SELECT a.name, e.extversion AS installed, n.nspname AS schema
FROM pg_available_extensions a
LEFT JOIN pg_extension e ON e.extname = a.name
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE a.name IN ('pg_stat_statements', 'hypopg')`;

/** Every index outside the system schemas, with what duplicate and prefix detection need. */
export const INDEXES_SQL = `
SELECT n.nspname AS schema, t.relname AS table, c.relname AS index,
       i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid,
       am.amname AS method,
       i.indkey::text AS keys, i.indclass::text AS classes, i.indcollation::text AS collations,
       coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS expressions,
       coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS predicate,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS constraint,
       coalesce(s.idx_scan, 0)::float8 AS scans,
       pg_relation_size(i.indexrelid)::float8 AS bytes,
       pg_get_indexdef(i.indexrelid) AS definition,
       array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             ORDER BY k.ord)::text[] AS columns
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, 2, 3`;

export const TABLES_SQL = `
SELECT schemaname AS schema, relname AS table,
       n_live_tup::float8 AS live, n_dead_tup::float8 AS dead, n_mod_since_analyze::float8 AS modified,
       greatest(last_vacuum, last_autovacuum) AS vacuumed,
       greatest(last_analyze, last_autoanalyze) AS analyzed
FROM pg_stat_user_tables
ORDER BY 1, 2`;

/** Size and columns of one table, for judging a sequential scan. */
export const TABLE_SQL = `
SELECT c.reltuples::float8 AS rows,
       array(SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped)::text[] AS columns
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`;

export const statementsSql = (schema: string) => `
SELECT query, calls::float8 AS calls, total_exec_time AS total_ms, mean_exec_time AS mean_ms, rows::float8 AS rows
FROM ${schema}.pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls > 0
ORDER BY total_exec_time DESC
LIMIT $1`;
