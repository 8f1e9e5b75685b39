/**
 * A path segment that is an id, not a place: a number, a UUID, a long hex
 * string, or a long token with a digit in it (slugs like
 * `how-to-measure-tti` stay as they are).
 */
const ID =
  /^(?:\d+|[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}|[\da-f]{12,}|(?=.*\d)[\w-]{20,})$/i;

/** The longest page group the collector accepts. */
const MAX_LENGTH = 200;

/** `/products/:id` → a matcher for `/products/42`; a trailing `*` matches the rest of the path. */
export function compileTemplate(template: string): RegExp {
  const source = template
    .split('/')
    .map((s) => (s[0] === ':' ? '[^/]+' : s === '*' ? '.*' : s.replace(/[.+?^${}()|[\]\\*]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * The page group of a path: the first template that matches it, else the
 * path with id-like segments replaced by `:id`, so `/orders/8812` and
 * `/orders/8813` share one series.
 */
export function pageGroupOf(path: string, templates: [RegExp, string][]): string {
  for (const [re, template] of templates) if (re.test(path)) return template;
  const group = path
    .split('/')
    .map((s) => (ID.test(s) ? ':id' : s))
    .join('/');
  return group.slice(0, MAX_LENGTH);
}
