// Nothing from a remote is trusted: whatever put.io, Sonarr/Radarr or the
// environment hand us, the parsers answer with a value or a typed error of that
// call, never an uncaught TypeError that would crash a loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PutioClient } from '../../src/transfers/clients/putio';
import { ArrClient } from '../../src/transfers/arr';
import { isClientError } from '../../src/transfers/clients/errors';
import { ConfigError, loadConfig } from '../../src/transfers/config';

/** A fetch that answers every call with this status and body. */
function fetchAnswering(status: number, body: string): typeof fetch {
  return (async () => new Response(body, { status, headers: { 'content-type': 'application/json' } })) as typeof fetch;
}

const noSleep = async (): Promise<void> => undefined;

/** JSON bodies: random values, and random values wrapped in put.io-like envelopes. */
const jsonBody = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.record({ status: fc.constantFrom('OK', 'ERROR', 7), transfers: fc.anything(), files: fc.anything(), file: fc.anything(), parent: fc.anything(), cursor: fc.anything(), transfer: fc.anything() })
    .map((v) => JSON.stringify(v)),
  fc.record({ status: fc.constant('OK'), transfers: fc.array(fc.record({ id: fc.anything(), name: fc.anything(), status: fc.anything(), percent_done: fc.anything(), size: fc.anything(), save_parent_id: fc.anything(), hash: fc.anything(), file_id: fc.anything(), current_ratio: fc.anything() }, { requiredKeys: [] })) })
    .map((v) => JSON.stringify(v)),
  fc.string(),
);

async function neverThrowsUntyped(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    assert.ok(isClientError(err), `an untyped error escaped: ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

test('any put.io response body gives a listing or a typed error, never a crash', async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom(200, 200, 200, 400, 401, 404, 429, 500, 503), jsonBody, async (status, body) => {
    const client = new PutioClient({ token: 't0ken', apiUrl: 'http://127.0.0.1:1', label: '', fetch: fetchAnswering(status, body), sleep: noSleep, retry: { attempts: 1 } });
    await neverThrowsUntyped(() => client.listTransfers());
    await neverThrowsUntyped(() => client.listFiles({ remoteId: '1', name: 'x', remoteStatus: 'COMPLETED', progress: 100, finished: true, totalBytes: 1 }));
  }), { numRuns: 300 });
});

test('any Sonarr history body gives an answer or a typed error, never a crash', async () => {
  const historyBody = fc.oneof(
    jsonBody,
    fc.record({ page: fc.anything(), totalRecords: fc.anything(), records: fc.array(fc.record({ eventType: fc.anything(), downloadId: fc.anything(), data: fc.anything(), date: fc.anything() }, { requiredKeys: [] })) })
      .map((v) => JSON.stringify(v)),
  );
  await fc.assert(fc.asyncProperty(fc.constantFrom(200, 200, 401, 500), historyBody, fc.string(), async (status, body, hash) => {
    const arr = new ArrClient({ kind: 'sonarr', baseUrl: 'http://127.0.0.1:1', apiKey: 'k3y', fetch: fetchAnswering(status, body), sleep: noSleep, retry: { attempts: 1 } });
    await neverThrowsUntyped(() => arr.findImport({ hash, paths: ['/downloads/x'] }));
  }), { numRuns: 300 });
});

test('any environment gives a configuration or one ConfigError line', () => {
  const names = ['DOWNLOAD_CLIENT', 'POLLING_INTERVAL', 'MAX_PARALLEL', 'KEEP_DOWNLOADED_FOR', 'SEED_RATIO', 'PUTIO_TOKEN', 'SONARR_BASE_URL',
    'SONARR_API_KEY', 'WEB_BIND_ADDRESS', 'MIN_FREE_SPACE', 'MAX_DOWNLOAD_RATE', 'UMASK', 'DOWNLOAD_DIR', 'FIRST_RUN', 'DELUGE_BASE_URL'];
  fc.assert(fc.property(fc.dictionary(fc.constantFrom(...names), fc.string()), (env) => {
    try {
      loadConfig(env, { cwd: '/tmp' });
    } catch (err) {
      assert.ok(err instanceof ConfigError, `not a ConfigError: ${(err as Error).name}`);
      assert.ok(!(err as Error).message.includes('\n'), 'one line');
    }
  }), { numRuns: 1000 });
});
