// Formatting of sizes, rates, durations and dates for display. Pure functions,
// unit-tested in format.test.ts.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** A byte count in binary units: "0 B", "1023 B", "1.5 KiB", "700 MiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '\u2013';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // Three significant digits at most: 1.50 -> "1.5", 12.3, 123.
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  let text = value.toFixed(digits);
  if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  return `${text} ${UNITS[unit]}`;
}

/** A transfer rate: "0 B/s", "1.2 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  const size = formatBytes(bytesPerSecond);
  return size === '\u2013' ? size : `${size}/s`;
}

/**
 * A duration in seconds as the two largest units: "0s", "45s", "3m 20s",
 * "2h 5m", "3d 4h". Unknown or infinite (no progress) shows as "\u221e".
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '\u221e';
  }
  const s = Math.round(seconds);
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([n], i) => i === 0 || n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

/** A whole number with thousands separators: 12345 -> "12,345". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * A connected count with the swarm's count by the trackers in parentheses,
 * as "3 (12)"; the count alone when no tracker said.
 */
export function withSwarm(connected: number, swarm: number | null | undefined): string {
  return swarm === null || swarm === undefined ? `${connected}` : `${connected} (${swarm})`;
}

/** The swarm's peers (seeders and leechers) by the trackers, if either is known. */
export function swarmPeers(seeds: number | null, leechers: number | null): number | null {
  return seeds === null && leechers === null ? null : (seeds ?? 0) + (leechers ?? 0);
}

/** Seconds since the Unix epoch as "YYYY-MM-DD HH:MM UTC"; "\u2013" if unknown. */
export function formatDate(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined || !Number.isFinite(epochSeconds)) {
    return '\u2013';
  }
  const iso = new Date(epochSeconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** A fraction 0..1 as a percentage with one decimal: "42.5%", "100%". */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return '\u2013';
  const p = Math.min(Math.max(fraction, 0), 1) * 100;
  if (p >= 100) return '100%';
  // Never show 100% before the end.
  const text = (Math.floor(p * 10) / 10).toFixed(1);
  return `${text.replace(/\.0$/, '')}%`;
}

/** A share ratio with two decimals; "\u221e" when nothing came in. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio) || ratio < 0) return '\u221e';
  return ratio.toFixed(2);
}

/** ETA of a torrent row: blank when complete, "\u221e" when stalled. */
export function formatEta(etaSecs: number | null, complete: boolean): string {
  if (complete) return '';
  return formatDuration(etaSecs);
}

/** The flags of a connection, the letters qBittorrent and uTorrent show. */
export interface PeerFlagInput {
  incoming: boolean;
  encrypted: boolean;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  source: string;
}

/**
 * D: we download from it (interested, unchoked); d: we want to but it chokes
 * us; U: we upload to it; u: it wants to but we choke it; K: it unchoked us
 * but we are not interested; ?: we unchoked it but it is not interested;
 * I: incoming; E: encrypted (MSE, RC4 or header-only); H: found through the DHT; X: through peer exchange; L:
 * through local peer discovery.
 */
export function peerFlags(p: PeerFlagInput): string {
  const flags: string[] = [];
  if (p.amInterested) flags.push(p.peerChoking ? 'd' : 'D');
  if (p.peerInterested) flags.push(p.amChoking ? 'u' : 'U');
  if (!p.peerChoking && !p.amInterested) flags.push('K');
  if (!p.amChoking && !p.peerInterested) flags.push('?');
  if (p.incoming) flags.push('I');
  if (p.encrypted) flags.push('E');
  if (p.source === 'dht') flags.push('H');
  if (p.source === 'pex') flags.push('X');
  if (p.source === 'lsd') flags.push('L');
  return flags.join(' ');
}

/** Longest torrent name shown inside a sentence (toasts, dialogs), in characters; the list and the details show it whole. */
export const MAX_INLINE_NAME = 120;

// Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069):
// in a name they can reverse what follows ("gpj.exe" shown as "exe.jpg").
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;
// C0 and C1 control characters, line breaks and tabs included.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// The same, but keeping line breaks and tabs (a comment has lines).
const CONTROLS_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * A name from a torrent or a peer, as one line of plain text: control
 * characters (line breaks too) become spaces and bidi controls are removed.
 * The result is still text for Svelte to escape, never markup.
 */
export function plainName(name: string): string {
  return name.replace(BIDI_CONTROLS, '').replace(CONTROLS, ' ');
}

/** Text of several lines from a torrent (its comment): as plainName, but line breaks and tabs stay. */
export function plainText(text: string): string {
  return text.replace(BIDI_CONTROLS, '').replace(CONTROLS_BUT_LINES, ' ');
}

/** A name for use inside a sentence: plainName, cut to `max` characters with "…". */
export function inlineName(name: string, max = MAX_INLINE_NAME): string {
  const plain = plainName(name);
  const chars = Array.from(plain);
  return chars.length <= max ? plain : `${chars.slice(0, max).join('')}\u2026`;
}

/**
 * "Why is it slow?" as one block of text for a tooltip: the cause, the
 * evidence and the fix, each on a line (names inside the evidence are made
 * plain, as everywhere).
 */
export function diagnosisText(d: { title: string; evidence: string; fix: string }): string {
  const lines = [d.title, plainName(d.evidence)];
  if (d.fix) lines.push(`Fix: ${d.fix}`);
  return lines.join('\n');
}
