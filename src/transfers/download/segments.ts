// The range bookkeeping of a segmented file (DESIGN.md 8), with no I/O: which
// bytes are written, which are being fetched by which Segment, and which are
// nobody's yet. A connection asks for work with assign(): an unassigned gap if
// there is one, else the back half of the range with the most time left
// (work stealing), so the tail of a file never waits on one slow connection.
// Time comes from an injected clock, so every decision is testable without
// time passing.

/** Bytes [start, end): end is one past the last byte. */
export interface ByteRange {
  start: number;
  end: number;
}

/** One range of the file fetched over its own connection. */
export interface Segment {
  readonly id: number;
  /** The first byte this segment was given. */
  readonly start: number;
  /** The next byte to write; [start, pos) is on disk. */
  pos: number;
  /** One past the last byte it must fetch; lowered when another connection takes its back half. */
  end: number;
  /** A write in flight covers [pos, reserved): a split never cuts below it. */
  reserved: number;
  /** The request in flight asked up to here: a split never cuts it (its bytes would cross the link for nothing). */
  requested: number;
  readonly openedAt: number;
  /** When its last byte (or, before any, its opening) happened: a stall is measured from here. */
  lastByteAt: number;
  firstByteAt: number | undefined;
}

export interface SegmentBookOptions {
  now: () => number;
}

/** Splits land on this boundary (disk pages, and round numbers in logs). */
const ALIGN = 64 * 1024;

export class SegmentBook {
  private readonly done: ByteRange[];
  private gaps: ByteRange[];
  private readonly active = new Map<number, Segment>();
  private nextId = 1;
  private readonly now: () => number;

  constructor(readonly size: number, written: readonly ByteRange[], o: SegmentBookOptions) {
    this.now = o.now;
    this.done = merge(written.map((r) => ({ start: Math.max(0, r.start), end: Math.min(size, r.end) })).filter((r) => r.end > r.start));
    this.gaps = complement(this.done, size);
  }

  /** Bytes not yet written. */
  get remaining(): number {
    return this.size - total(this.written());
  }

  get complete(): boolean {
    return this.remaining === 0;
  }

  get segments(): Segment[] {
    return [...this.active.values()];
  }

  /** What is on disk: the recorded ranges and what each segment has written so far, merged. */
  written(): ByteRange[] {
    return merge([...this.done, ...[...this.active.values()].map((s) => ({ start: s.start, end: s.pos }))]);
  }

  /**
   * Work for a connection: the first unassigned gap, whole; else the back half of the segment
   * with the most time left, when that half is at least `minSplit` bytes. undefined: nothing
   * worth a connection.
   */
  assign(minSplit: number): Segment | undefined {
    const gap = this.gaps.shift();
    if (gap) return this.open(gap.start, gap.end);
    // The slowest first; one that cannot be split (its rest is in hand, or too small) passes to the next.
    for (const victim of this.bySlowest()) {
      // Half of what the victim has left, but never what it has in hand (written, being written,
      // asked for); the half taken must be worth a connection.
      const mid = alignUp(Math.max(claimed(victim), victim.pos + Math.floor((victim.end - victim.pos) / 2)));
      if (victim.end - mid < Math.max(1, minSplit) || mid <= victim.pos) continue;
      const end = victim.end;
      victim.end = mid;
      return this.open(mid, end);
    }
    return undefined;
  }

  /** Bytes [pos, pos + n) of the segment are on disk. */
  advance(seg: Segment, n: number): void {
    if (n <= 0) return;
    seg.pos = Math.min(seg.end, seg.pos + n);
    seg.reserved = Math.max(seg.reserved, seg.pos);
    const t = this.now();
    seg.firstByteAt ??= t;
    seg.lastByteAt = t;
  }

  /** The segment's connection is done with it: what it wrote counts, what it did not goes back to the gaps. */
  release(seg: Segment): void {
    if (!this.active.delete(seg.id)) return;
    if (seg.pos > seg.start) this.add({ start: seg.start, end: seg.pos });
    if (seg.pos < seg.end) {
      this.gaps.push({ start: seg.pos, end: seg.end });
      this.gaps.sort((a, b) => a.start - b.start);
    }
  }

  /** Segments with no byte for `ms` (counted from their opening before the first byte). */
  stalled(ms: number): Segment[] {
    const t = this.now();
    return [...this.active.values()].filter((s) => s.pos < s.end && t - s.lastByteAt >= ms);
  }

  /** Bytes per second of one segment since its opening. */
  rateOf(seg: Segment): number {
    const span = this.now() - seg.openedAt;
    return span > 0 ? ((seg.pos - seg.start) * 1000) / span : 0;
  }

  private open(start: number, end: number): Segment {
    const t = this.now();
    const seg: Segment = { id: this.nextId++, start, pos: start, end, reserved: start, requested: start, openedAt: t, lastByteAt: t, firstByteAt: undefined };
    this.active.set(seg.id, seg);
    return seg;
  }

  /**
   * The segments by the time they are expected to take, longest first: bytes left over their own
   * rate; one with no rate yet is counted at the others' mean (it is not slow, only new).
   */
  private bySlowest(): Segment[] {
    const segs = [...this.active.values()].filter((s) => s.end > claimed(s));
    const rates = segs.map((s) => this.rateOf(s)).filter((r) => r > 0);
    const mean = rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : 1;
    const eta = (s: Segment): number => (s.end - claimed(s)) / (this.rateOf(s) || mean);
    return segs.sort((a, b) => eta(b) - eta(a));
  }

  private add(r: ByteRange): void {
    const all = merge([...this.done, r]);
    this.done.splice(0, this.done.length, ...all);
  }
}

/** Where what a segment has in hand ends: written, being written, or asked for. */
function claimed(s: Segment): number {
  return Math.max(s.pos, s.reserved, s.requested);
}

/** Sorted, overlapping and touching ranges joined. */
export function merge(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = ranges.filter((r) => r.end > r.start).map((r) => ({ ...r })).sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push(r);
  }
  return out;
}

/** What [0, size) lacks of `done` (merged). */
export function complement(done: readonly ByteRange[], size: number): ByteRange[] {
  const out: ByteRange[] = [];
  let at = 0;
  for (const r of done) {
    if (r.start > at) out.push({ start: at, end: r.start });
    at = Math.max(at, r.end);
  }
  if (at < size) out.push({ start: at, end: size });
  return out;
}

export function total(ranges: readonly ByteRange[]): number {
  return ranges.reduce((s, r) => s + (r.end - r.start), 0);
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
