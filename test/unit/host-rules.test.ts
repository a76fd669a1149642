// The two DNS-rebinding Host rules (src/transfers/net/host.ts) side by side:
// the ops server answers loopback names only, the Transmission endpoint any IP
// literal and localhost (Transmission's whitelist default). The table pins where
// they agree (every DNS name but localhost is refused) and where they differ on
// purpose, so merging them into one rule fails here first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIpOrLocalhostHostHeader, isLoopbackAddress, isLoopbackHostHeader } from '../../src/transfers/net/host';

const BOTH_ACCEPT = [undefined, 'localhost', 'LOCALHOST', 'localhost:8080', '127.0.0.1', '127.0.0.1:9091', '127.1.2.3:80', '[::1]', '[::1]:9091'];
const BOTH_REFUSE = ['attacker.example', 'attacker.example:8080', 'harvester', '127.0.0.1.evil.example', 'localhost.evil.example', 'evil.example:127'];
/** IP literals that are not loopback, and localhost's subdomains: Transmission's rule only. */
const TRANSMISSION_ONLY = ['192.168.1.4', '192.168.1.4:9091', '10.0.0.2', '[fe80::1]:9091', 'sonarr.localhost', 'localhost.', ''];

test('both Host rules accept loopback names and refuse every other DNS name', () => {
  for (const host of BOTH_ACCEPT) {
    assert.ok(isLoopbackHostHeader(host), `ops server accepts ${String(host)}`);
    assert.ok(isIpOrLocalhostHostHeader(host), `Transmission endpoint accepts ${String(host)}`);
  }
  for (const host of BOTH_REFUSE) {
    assert.ok(!isLoopbackHostHeader(host), `ops server refuses ${host}`);
    assert.ok(!isIpOrLocalhostHostHeader(host), `Transmission endpoint refuses ${host}`);
  }
});

test('the Transmission endpoint also accepts any IP literal and localhost subdomains, the ops server does not', () => {
  for (const host of TRANSMISSION_ONLY) {
    assert.ok(isIpOrLocalhostHostHeader(host), `Transmission endpoint accepts ${JSON.stringify(host)}`);
    assert.ok(!isLoopbackHostHeader(host), `ops server refuses ${JSON.stringify(host)}`);
  }
});

test('isLoopbackAddress: the bind addresses only this machine reaches', () => {
  for (const host of ['localhost', '::1', '127.0.0.1', '127.8.9.10']) assert.ok(isLoopbackAddress(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.4', 'harvester', '128.0.0.1']) assert.ok(!isLoopbackAddress(host), host);
});
