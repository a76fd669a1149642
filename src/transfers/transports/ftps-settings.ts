// The FTPS settings of the configuration (DESIGN.md 7) and the rule a server's
// certificate must meet: verified against the system's CAs (and the host name),
// or pinned by FTP_CERT_FINGERPRINT, the SHA-256 of the DER certificate (the
// usual self-signed seedbox certificate). No trust on first use: a certificate
// refused is named by its fingerprint, so that the user can check and pin it
// (as the SFTP host key refusal does, known-hosts.ts).
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/** The FTPS settings of the configuration (config.ts `ftp`). */
export interface FtpSettings {
  /** FTP_PASSWORD (secret); null: none set (anonymous logins only). */
  password: string | null;
  /** FTP_CERT_FINGERPRINT, normalized (`AA:BB:...`, upper case); null: verify against the system's CAs. */
  certFingerprint: string | null;
  /** FTP_INSECURE=1: plain `ftp://` is allowed (no TLS at all). */
  insecure: boolean;
}

/**
 * A SHA-256 fingerprint as users copy it: `AA:BB:..` (openssl's
 * `-fingerprint -sha256`, with or without its `SHA256 Fingerprint=` prefix) or
 * 64 plain hex digits, any case. Returns the `AA:BB:..` upper-case form, or
 * undefined if it is not one.
 */
export function normalizeCertFingerprint(text: string): string | undefined {
  const t = text.trim().replace(/^sha-?256\s*(fingerprint)?\s*[=:]?\s*/i, '');
  const hex = /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/i.test(t) ? t.replace(/:/g, '') : /^[0-9a-f]{64}$/i.test(t) ? t : undefined;
  return hex?.toUpperCase().match(/../g)!.join(':');
}

/** The SHA-256 fingerprint (`AA:BB:..`) of a DER certificate. */
export function certFingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

export type CertVerdict = { ok: true; fingerprint: string; how: 'pinned' | 'verified' } | { ok: false; fingerprint: string; reason: string };

/**
 * The verdict on the certificate a control connection's TLS handshake showed.
 * The socket was connected with `rejectUnauthorized: false` so that a refusal
 * can name what was seen; `authorized` still says whether the chain and the
 * host name checked out against the system's CAs.
 */
export function judgeCertificate(socket: TLSSocket, pinned: string | null): CertVerdict {
  const cert = socket.getPeerCertificate(false);
  const der = cert && Buffer.isBuffer(cert.raw) ? cert.raw : undefined;
  if (!der) return { ok: false, fingerprint: 'none', reason: 'the server showed no certificate' };
  const fingerprint = certFingerprint(der);
  if (pinned) {
    return fingerprint === pinned ? { ok: true, fingerprint, how: 'pinned' } : { ok: false, fingerprint, reason: 'does not match FTP_CERT_FINGERPRINT' };
  }
  if (socket.authorized) return { ok: true, fingerprint, how: 'verified' };
  return { ok: false, fingerprint, reason: `is not trusted by this system's CAs (${String(socket.authorizationError ?? 'unverified')})` };
}

/** The one line that says why a certificate was refused and what to pin. */
export function describeCertRefusal(v: Extract<CertVerdict, { ok: false }>, host: string, port: number): string {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return `TLS certificate of ${where} (SHA-256 ${v.fingerprint}) ${v.reason}: check it with the seedbox provider, then set FTP_CERT_FINGERPRINT=${v.fingerprint}`;
}
