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

/** Seconds since the Unix epoch as "YYYY-MM-DD HH:MM UTC"; "\u2013" if unknown. */
export function formatDate(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined || !Number.isFinite(epochSeconds)) {
    return '\u2013';
  }
  const iso = new Date(epochSeconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
