import { describe, expect, it } from 'vitest';

import {
  diagnosisText,
  formatBytes,
  formatCount,
  formatDate,
  formatDuration,
  formatEta,
  formatPercent,
  formatRate,
  formatRatio,
  inlineName,
  MAX_INLINE_NAME,
  peerFlags,
  plainName,
  swarmPeers,
  withSwarm,
  plainText,
} from './format';

describe('formatBytes', () => {
  it('keeps small counts in bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1)).toBe('1 B');
    expect(formatBytes(1023)).toBe('1023 B');
  });
  it('uses binary units with at most three significant digits', () => {
    expect(formatBytes(1024)).toBe('1 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(16 * 1024)).toBe('16 KiB');
    expect(formatBytes(1024 * 1024 * 700)).toBe('700 MiB');
    expect(formatBytes(100 * 1024)).toBe('100 KiB');
    expect(formatBytes(10 * 1024)).toBe('10 KiB');
    expect(formatBytes(1.25 * 1024 ** 3)).toBe('1.25 GiB');
    expect(formatBytes(123.456 * 1024 ** 4)).toBe('123 TiB');
  });
  it('stops at the largest unit', () => {
    expect(formatBytes(2048 * 1024 ** 5)).toBe('2048 PiB');
  });
  it('shows a dash for nonsense', () => {
    expect(formatBytes(-1)).toBe('\u2013');
    expect(formatBytes(Number.NaN)).toBe('\u2013');
  });
});

describe('formatRate', () => {
  it('appends per second', () => {
    expect(formatRate(0)).toBe('0 B/s');
    expect(formatRate(1.2 * 1024 * 1024)).toBe('1.2 MiB/s');
  });
  it('shows a dash for nonsense', () => {
    expect(formatRate(Number.POSITIVE_INFINITY)).toBe('\u2013');
  });
});

describe('formatDuration', () => {
  it('shows the two largest units', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(45)).toBe('45s');
    expect(formatDuration(200)).toBe('3m 20s');
    expect(formatDuration(2 * 3600 + 5 * 60 + 9)).toBe('2h 5m');
    expect(formatDuration(3 * 86400 + 4 * 3600 + 59)).toBe('3d 4h');
  });
  it('drops a zero second unit', () => {
    expect(formatDuration(3600)).toBe('1h');
    expect(formatDuration(86400 + 30)).toBe('1d');
  });
  it('shows infinity when unknown', () => {
    expect(formatDuration(null)).toBe('\u221e');
    expect(formatDuration(undefined)).toBe('\u221e');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('\u221e');
    expect(formatDuration(-5)).toBe('\u221e');
  });
});

describe('formatCount', () => {
  it('groups thousands', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(12345)).toBe('12,345');
  });
});

describe('formatDate', () => {
  it('formats epoch seconds in UTC', () => {
    expect(formatDate(0)).toBe('1970-01-01 00:00 UTC');
    expect(formatDate(1_700_000_000)).toBe('2023-11-14 22:13 UTC');
  });
  it('shows a dash when unknown', () => {
    expect(formatDate(null)).toBe('\u2013');
  });
});

describe('torrent list columns', () => {
  it('formats percentages without reaching 100% early', () => {
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(0.425)).toBe('42.5%');
    expect(formatPercent(0.9999)).toBe('99.9%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(NaN)).toBe('\u2013');
  });
  it('formats ratios and ETAs', () => {
    expect(formatRatio(0)).toBe('0.00');
    expect(formatRatio(1.234)).toBe('1.23');
    expect(formatRatio(Infinity)).toBe('\u221e');
    expect(formatEta(125, false)).toBe('2m 5s');
    expect(formatEta(null, false)).toBe('\u221e');
    expect(formatEta(null, true)).toBe('');
  });
});

describe('peerFlags', () => {
  const base = {
    incoming: false,
    encrypted: false,
    amChoking: true,
    amInterested: false,
    peerChoking: true,
    peerInterested: false,
    source: 'tracker',
  };
  it('shows a peer we download from', () => {
    expect(peerFlags({ ...base, amInterested: true, peerChoking: false })).toBe('D');
    expect(peerFlags({ ...base, amInterested: true })).toBe('d');
  });
  it('shows a peer we upload to, and incoming and source flags', () => {
    expect(peerFlags({ ...base, peerInterested: true, amChoking: false, incoming: true })).toBe('U I');
    expect(peerFlags({ ...base, peerInterested: true, source: 'dht' })).toBe('u H');
    expect(peerFlags({ ...base, peerInterested: true, source: 'lsd' })).toBe('u L');
    expect(peerFlags({ ...base, source: 'pex' })).toBe('X');
  });
  it('shows an encrypted connection', () => {
    expect(peerFlags({ ...base, encrypted: true })).toBe('E');
    expect(peerFlags({ ...base, incoming: true, encrypted: true, source: 'pex' })).toBe('I E X');
  });
  it('shows unchokes nobody uses', () => {
    expect(peerFlags({ ...base, peerChoking: false })).toBe('K');
    expect(peerFlags({ ...base, amChoking: false })).toBe('?');
  });
});

describe('names from torrents', () => {
  const hostile = '<img src=x onerror=alert(1)><b>bold</b> {{7*7}} &amp;';

  it('keeps markup as the text it is', () => {
    expect(plainName(hostile)).toBe(hostile);
    expect(inlineName(hostile)).toBe(hostile);
    expect(plainText(hostile)).toBe(hostile);
  });

  it('puts a name on one line', () => {
    expect(plainName('a\nb\r\nc\td\u0000e\u2028f')).toBe('a b  c d e f');
  });

  it('drops bidi overrides, keeps right-to-left letters', () => {
    expect(plainName('photo\u202egpj.exe')).toBe('photogpj.exe');
    expect(plainName('\u2067x\u2069')).toBe('x');
    expect(plainName('שלום')).toBe('שלום');
    expect(plainText('a\u202eb')).toBe('ab');
  });

  it('keeps the lines of a comment', () => {
    expect(plainText('line 1\nline 2\tx\u0007')).toBe('line 1\nline 2\tx ');
  });

  it('cuts long names in sentences, on whole characters', () => {
    const long = '😀'.repeat(10_000);
    const cut = inlineName(long);
    expect(Array.from(cut)).toHaveLength(MAX_INLINE_NAME + 1);
    expect(cut.endsWith('\u2026')).toBe(true);
    expect(inlineName('short')).toBe('short');
    expect(inlineName('abcdef', 3)).toBe('abc\u2026');
  });
});

describe('swarm counts', () => {
  it('shows the trackers\' count beside the connected one', () => {
    expect(withSwarm(0, 12)).toBe('0 (12)');
    expect(withSwarm(3, 0)).toBe('3 (0)');
    expect(withSwarm(3, null)).toBe('3');
    expect(withSwarm(3, undefined)).toBe('3');
  });
  it('counts seeders and leechers as peers when either is known', () => {
    expect(swarmPeers(12, 30)).toBe(42);
    expect(swarmPeers(null, 30)).toBe(30);
    expect(swarmPeers(null, null)).toBe(null);
  });
});

describe('diagnosisText', () => {
  it('puts the cause, the evidence and the fix on lines of their own', () => {
    const d = { title: 'Every peer chokes us', evidence: 'All 2 connected peers choke us.', fix: 'Wait.' };
    expect(diagnosisText(d)).toBe('Every peer chokes us\nAll 2 connected peers choke us.\nFix: Wait.');
  });
  it('leaves the fix out when there is none, and control characters out of the evidence', () => {
    const d = { title: 'Nothing wrong', evidence: 'missing from a\u202e.bin\n', fix: '' };
    expect(diagnosisText(d)).toBe('Nothing wrong\nmissing from a.bin ');
  });
});
