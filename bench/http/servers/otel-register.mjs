// Loaded with --import before express-otel.mjs. A NodeTracerProvider with the
// http and express instrumentations, spans sampled (AlwaysOn, the default) and
// handed to a BatchSpanProcessor with default settings, whose exporter only
// counts them: the cost measured is creating, ending and batching spans, not
// sending them anywhere.
import { register } from 'node:module';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

// The app is ESM, so `import express` goes through the ESM loader; this hook
// (import-in-the-middle) lets the express instrumentation patch it.
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const exported = new Map();
const countingExporter = {
  export(spans, done) {
    for (const span of spans) exported.set(span.name, (exported.get(span.name) ?? 0) + 1);
    done({ code: 0 });
  },
  shutdown: async () => {},
  forceFlush: async () => {},
};

const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(countingExporter)] });
provider.register();
registerInstrumentations({
  tracerProvider: provider,
  instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
});

// The runner stops servers with SIGTERM; report which spans were made so a
// silently unpatched express shows up (the runner prints this to stderr).
process.on('SIGTERM', async () => {
  await provider.forceFlush();
  process.stderr.write(`otel spans exported: ${JSON.stringify(Object.fromEntries(exported))}\n`);
  process.exit(0);
});
