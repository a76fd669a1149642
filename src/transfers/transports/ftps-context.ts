// basic-ftp's connection state, with one check added: every TLS data connection
// must be the server the control connection trusted. A data connection is a
// TLS connection of its own; basic-ftp opens it with the control connection's
// TLS options, which here are `rejectUnauthorized: false` (the certificate is
// judged by hand, ftps-settings.ts, so that a refusal can name it). So each
// data connection must either resume the control connection's TLS session
// (only the server that finished that handshake holds its keys) or show the
// same certificate; anything else is destroyed before a byte of it is read.
import { FTPContext } from 'basic-ftp';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { certFingerprint } from './ftps-settings';

/** A data connection that showed another certificate than the control connection. */
export class DataCertificateError extends Error {
  constructor(readonly fingerprint: string) {
    super(`the data connection showed another TLS certificate (SHA-256 ${fingerprint})`);
    this.name = 'DataCertificateError';
  }
}

export class CheckedContext extends FTPContext {
  /** The control connection's certificate fingerprint, once it was accepted. */
  expectedFingerprint: string | undefined;

  override get dataSocket(): Socket | TLSSocket | undefined {
    return super.dataSocket;
  }

  override set dataSocket(socket: Socket | TLSSocket | undefined) {
    const expected = this.expectedFingerprint;
    if (socket instanceof TLSSocket && expected) {
      // basic-ftp sets the socket right after tls.connect(): the handshake has not ended yet,
      // and no data event comes before 'secureConnect'.
      socket.once('secureConnect', () => {
        if (socket.isSessionReused()) return;
        const raw = socket.getPeerCertificate(false)?.raw;
        const seen = Buffer.isBuffer(raw) ? certFingerprint(raw) : 'none';
        if (seen !== expected) socket.destroy(new DataCertificateError(seen));
      });
    }
    super.dataSocket = socket;
  }
}
