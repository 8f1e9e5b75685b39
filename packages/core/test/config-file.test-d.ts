import { describe, expectTypeOf, it } from 'vitest';
import { createKeel, defineConfig, type KeelFileConfig, resolveConfigFile } from '../src/index.js';

describe('defineConfig', () => {
  it('types a config file: known keys only, the result goes to createKeel', () => {
    const config = defineConfig({
      service: 'x',
      kubernetes: { replicas: { min: 2 } },
      prometheus: { period: 86_400_000 },
    });
    expectTypeOf(createKeel).toBeCallableWith(config);
    expectTypeOf(resolveConfigFile(config)).toEqualTypeOf<KeelFileConfig>();
    // @ts-expect-error a misspelt key is a type error too, not only a KeelError at load time
    defineConfig({ servce: 'x' });
    // @ts-expect-error inside a section as well
    defineConfig({ kubernetes: { replica: 3 } });
  });
});
