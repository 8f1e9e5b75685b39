// "Download as YAML": the one feature that needs a YAML library. A bundler
// that splits code keeps it out of the page's first load; one that does not
// ships it to every visitor.
import { stringify } from 'yaml';

/** @param {unknown} value @param {string} name */
export function downloadAsYaml(value, name) {
  const blob = new Blob([stringify(value)], { type: 'application/yaml' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}
