import { defineConfig } from 'tsup';
import { keelPackage } from '../../tsup.base';

export default defineConfig(keelPackage());
