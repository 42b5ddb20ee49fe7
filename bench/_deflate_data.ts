/**
 * The payload of the permessage-deflate benchmarks.
 *
 * @module
 */

/**
 * 64 different 4 KiB JSON-like messages (UTF-8), so that context takeover sees a
 * realistic history rather than one message repeated.
 */
export const MESSAGES: Uint8Array[] = Array.from({ length: 64 }, (_, m) => {
  const items = [];
  for (let i = 0; JSON.stringify(items).length < 4096; i++) {
    items.push({
      id: m * 1000 + i,
      user: `user${(m * 31 + i) % 97}`,
      text: `message number ${m + i}`,
      ts: 1_700_000_000_000 + m * 1000 + i,
      ok: i % 3 === 0,
    });
  }
  return new TextEncoder().encode(JSON.stringify(items).slice(0, 4096));
});
