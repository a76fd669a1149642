// Secrets (tokens, API keys, webhook URLs) must never reach a log line or an
// error (DESIGN.md, Configuration). Remote error text is echoed into our error
// messages, so it is scrubbed of every secret we know before use.

const MAX_REMOTE_TEXT = 300;

/** Replace every occurrence of each secret with `***`, and bound the length. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    // Very short "secrets" would shred ordinary words; real tokens are long.
    if (secret && secret.length >= 4) out = out.split(secret).join('***');
  }
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > MAX_REMOTE_TEXT ? `${out.slice(0, MAX_REMOTE_TEXT)}...` : out;
}
