// Bind addresses as the environment writes them (`host:port`, `[v6]:port`,
// `:port`): parsed for WEB_BIND_ADDRESS/HTTP_BIND, and written back for logs,
// `harvester check` and the clients that dial them.
import type { BindAddress } from './types';

/** `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 asks the OS for a free one. */
export function parseBindAddress(text: string): BindAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] || '0.0.0.0');
  return { host, port };
}

export function formatBindAddress(b: BindAddress): string {
  return b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}
