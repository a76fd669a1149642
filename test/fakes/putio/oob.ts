// Device sign-in codes (GET /v2/oauth2/oob/code): handed out pending; the test
// plays the user who typed one at put.io/link (link) or lets it expire.
import { randomBytes } from 'node:crypto';

export type OobState = 'pending' | 'linked' | 'expired';

export class OobCodes {
  /** The codes handed out, oldest first. */
  readonly issued: string[] = [];
  private readonly states = new Map<string, OobState>();

  issue(): string {
    const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
    const code = [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
    this.states.set(code, 'pending');
    this.issued.push(code);
    return code;
  }

  link(code: string): void {
    if (!this.states.has(code)) throw new Error(`fake put.io: no OOB code ${code}`);
    this.states.set(code, 'linked');
  }

  expire(code: string): void {
    this.states.set(code, 'expired');
  }

  stateOf(code: string): OobState | undefined {
    return this.states.get(code);
  }
}
