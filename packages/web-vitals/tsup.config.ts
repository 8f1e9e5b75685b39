import { defineConfig } from 'tsup';
import { keelPackage } from '../../tsup.base';

export default defineConfig(
  // Browsers, not Node: the code is shipped to users' pages through the app's bundler.
  keelPackage({ target: 'es2020', platform: 'browser' }),
);
