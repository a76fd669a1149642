// The table of legal state changes (src/transfers/transitions.ts): its shape here,
// and walked against the real store by test/store-suite/transitions.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TRANSFER_STATES } from '../../src/transfers/model';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { isLegalTransition, QUEUE_STATES, TRANSITIONS } from '../../src/transfers/transitions';
import { QUEUE_STATES as QUEUE_OF_QUEUE } from '../../src/transfers/queue';
import { transitionsSuite } from '../store-suite/transitions';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'harvester-transitions-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

const pairs = TRANSFER_STATES.flatMap((from) => TRANSFER_STATES.map((to) => [from, to] as const));
const legal = pairs.filter(([from, to]) => TRANSITIONS[from].includes(to));

// The store's side of the table, on SQLite (on PostgreSQL in test/integration/postgres-store.test.ts).
transitionsSuite({
  name: 'sqlite',
  database: async () => path.join(tmp, `db-${++n}`, 'harvester.db'),
  open: async (file, clock) => new SqliteStore(file, { clock }),
});

test('the table names only known states, has no change to the same state, and the pipeline is in it', () => {
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...TRANSFER_STATES].sort());
  for (const [from, to] of legal) {
    assert.ok(TRANSFER_STATES.includes(to), `${from} -> ${to}`);
    assert.notEqual(from, to);
  }
  for (const [from, to] of [['queued', 'downloading'], ['downloading', 'downloaded'], ['downloaded', 'imported'], ['imported', 'seeding'], ['seeding', 'cleaned'], ['downloading', 'queued']] as const) {
    assert.ok(isLegalTransition(from, to), `${from} -> ${to}`);
  }
  assert.equal(legal.length, 6, 'a new legal change is added here on purpose');
});

test('the queue states are the download queue\'s own, not a copy', () => {
  assert.equal(QUEUE_STATES, QUEUE_OF_QUEUE);
});
