// Which host names only this machine reaches, and which Host headers a server
// without credentials answers (protection against DNS rebinding: a web page on
// evil.example whose name is re-pointed at 127.0.0.1 sends `Host: evil.example`).
//
// Two Host rules, on purpose, side by side here so that a change to one is made
// knowing the other:
// - harvester's own HTTP server (src/http) is reached by people and scripts on
//   this machine: a loopback name only (localhost, 127.x.x.x, [::1]);
// - the Transmission endpoint follows Transmission's own rpc-host-whitelist
//   default (rpc-spec 2.3.2; peers-and-protocols D.1): any IP literal, and
//   localhost with its subdomains, because Sonarr/Radarr address their download
//   client by IP (another container, a LAN address) and expect Transmission's
//   answer. Either rule refuses every DNS name but localhost, which is what
//   stops the rebinding.
import { isIP } from 'node:net';

/** A bind (or peer) address only this machine reaches: localhost, ::1, 127.0.0.0/8. */
export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)(?::\d{1,5})?$/i;

/** harvester's HTTP server: a Host header naming a loopback address (port optional); none at all passes. */
export function isLoopbackHostHeader(hostHeader: string | undefined): boolean {
  return hostHeader === undefined || LOOPBACK_HOST.test(hostHeader);
}

/** Transmission's whitelist default: a Host header that is an IP literal or localhost (port optional); none or empty passes. */
export function isIpOrLocalhostHostHeader(hostHeader: string | undefined): boolean {
  if (hostHeader === undefined || hostHeader === '') return true;
  let host = hostHeader.trim().toLowerCase();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracket) return isIP(bracket[1]!) === 6;
  host = host.replace(/:\d+$/, '');
  if (isIP(host) !== 0) return true;
  return host === 'localhost' || host === 'localhost.' || host.endsWith('.localhost') || host.endsWith('.localhost.');
}
