// The speed graph's data: a ring buffer of (time, down, up) samples, one per
// update, holding the last few minutes. Pure, unit-tested in speed.test.ts.

/** One sample. */
export interface SpeedSample {
  /** Milliseconds since the epoch. */
  t: number;
  /** Bytes per second in. */
  down: number;
  /** Bytes per second out. */
  up: number;
}

/** A fixed-size ring buffer of samples: the oldest is overwritten. */
export class SpeedHistory {
  private readonly buf: SpeedSample[];
  private start = 0;
  private len = 0;

  constructor(readonly capacity: number = 300) {
    if (capacity < 1) throw new Error('capacity must be at least 1');
    this.buf = new Array(capacity);
  }

  /** Adds a sample, dropping the oldest when full. */
  push(s: SpeedSample): void {
    const end = (this.start + this.len) % this.capacity;
    this.buf[end] = s;
    if (this.len < this.capacity) this.len++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** Samples held. */
  get length(): number {
    return this.len;
  }

  /** The samples, oldest first. */
  samples(): SpeedSample[] {
    const out: SpeedSample[] = [];
    for (let i = 0; i < this.len; i++) out.push(this.buf[(this.start + i) % this.capacity]);
    return out;
  }

  /** The samples no older than `windowMs` before the newest one. */
  recent(windowMs: number): SpeedSample[] {
    const all = this.samples();
    if (all.length === 0) return all;
    const from = all[all.length - 1].t - windowMs;
    return all.filter((s) => s.t >= from);
  }

  /** Forgets every sample. */
  clear(): void {
    this.start = 0;
    this.len = 0;
  }
}

/** The graph's vertical scale: a round number at or above the peak. */
export function niceMax(samples: SpeedSample[]): number {
  let peak = 0;
  for (const s of samples) peak = Math.max(peak, s.down, s.up);
  if (peak <= 0) return 1024;
  const exp = Math.pow(10, Math.floor(Math.log10(peak)));
  for (const m of [1, 2, 5, 10]) if (m * exp >= peak) return m * exp;
  return 10 * exp;
}

/** Points of a polyline for `key` in a `width` x `height` box, x by time. */
export function polyline(
  samples: SpeedSample[],
  key: 'down' | 'up',
  width: number,
  height: number,
  windowMs: number,
  max: number,
): [number, number][] {
  if (samples.length === 0) return [];
  const end = samples[samples.length - 1].t;
  return samples.map((s) => [
    width - ((end - s.t) / windowMs) * width,
    height - (Math.min(s[key], max) / max) * height,
  ]);
}
