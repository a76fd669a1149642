// Every request the fake received, by endpoint key, so tests assert on calls
// and wait for them (events, not sleeps).
import { EventEmitter } from 'node:events';
import type { RecordedRequest } from './types';

export class RequestLog {
  readonly requests: RecordedRequest[] = [];
  private readonly counts = new Map<string, number>();
  private readonly events = new EventEmitter();

  record(request: RecordedRequest): void {
    this.requests.push(request);
    this.counts.set(request.key, (this.counts.get(request.key) ?? 0) + 1);
    this.events.emit('request', request);
  }

  /** Requests per endpoint key (all when no key). */
  calls(key?: string): number {
    return key === undefined ? this.requests.length : this.counts.get(key) ?? 0;
  }

  /** Resolves once `calls(key)` reaches `count`. */
  waitForCalls(key: string, count: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.calls(key) >= count) return resolve();
      const onRequest = (): void => {
        if (this.calls(key) >= count) {
          this.events.off('request', onRequest);
          resolve();
        }
      };
      this.events.on('request', onRequest);
    });
  }
}
