// Content-Range of a 206 answer (`bytes 100-199/1000`): where the bytes start
// and the file's total, so a resumed download can check it got what it asked for.

export function contentRangeStart(header: string | null): number | undefined {
  const m = header ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim()) : null;
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

export function contentRangeTotal(header: string | null): number | undefined {
  const m = header ? /\/(\d+)$/.exec(header.trim()) : null;
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** All three numbers of `bytes first-last/total` (total undefined for `*`). */
export function contentRange(header: string | null): { first: number; last: number; total: number | undefined } | undefined {
  const m = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!m) return undefined;
  return { first: Number(m[1]), last: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}
