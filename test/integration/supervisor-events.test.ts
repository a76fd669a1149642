// The supervisor's one event hook: each event is handed once to every 'event'
// listener (the onEvent option is the first of them); a listener that throws is
// logged and neither the supervisor nor the other listeners notice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor';
import type { SupervisorEvent } from '../../src/supervisor/events';
import { fixture, memoryLogger, removeDir, tempDir, waitForMarker } from '../helpers';

test('every event reaches onEvent and each listener once, in order; a throwing listener is logged and changes nothing', async () => {
  const dir = tempDir();
  const { logger, lines } = memoryLogger('info');
  const viaOption: string[] = [];
  const viaListener: string[] = [];
  const sup = new Supervisor({
    logger,
    onEvent: (e) => {
      viaOption.push(e.event);
      if (e.event === 'loop.ready') throw new Error('a broken hook');
    },
    loops: [{ name: 'one', module: fixture('faulty'), intervalMs: 50, options: { marker: join(dir, 'm.log') } }],
  });
  sup.on('event', (e: SupervisorEvent) => viaListener.push(e.event));
  await sup.start();
  await waitForMarker(join(dir, 'm.log'), /^tick 2 /);
  assert.equal(await sup.stop('test'), 0, 'the throwing hook did not turn the stop into a failure');
  const expected = ['supervisor.starting', 'loop.started', 'loop.ready', 'supervisor.ready', 'supervisor.stopping', 'loop.exited', 'supervisor.stopped'];
  assert.deepEqual(viaOption, expected);
  assert.deepEqual(viaListener, expected, 'the listener after the throwing one still saw every event');
  const failed = lines.filter((l) => l.event === 'supervisor.hook-failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.for, 'loop.ready');
  assert.match(String((failed[0]!.err as { message?: string }).message), /a broken hook/);
  assert.equal(sup.listenerCount('loop.ready'), 0);
  removeDir(dir);
});
