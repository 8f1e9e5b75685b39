import { defineConfig } from 'tsup';
import { keelPackage } from '../../tsup.base';

export default defineConfig([
  keelPackage(),
  // The `keel` command (bin/keel.js imports it): one ESM file, not part of the exports map.
  keelPackage({ entry: { cli: 'src/cli.ts' }, format: ['esm'], dts: false, clean: false }),
]);
