//! Fetching a list of blocks from a web seed: consecutive blocks become one
//! run of the torrent's bytes, a run becomes one ranged `GET` per file it
//! touches (pad files are zeros and fetched from nobody), and each block
//! is written to the disk and reported as soon as its last byte arrives.
//!
//! Bounds: a response is read only up to the bytes asked for, whatever
//! it announces; a server that answers a ranged request with `200` and
//! the whole file (it ignores `Range`) is read from its start to the end
//! of what we need, then the connection is dropped; every read waits at
//! most [`READ_TIMEOUT`].

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;

use super::{SeedContext, WebSeedEvent, READ_TIMEOUT};
use crate::types::BlockRef;

/// Why a fetch stopped.
#[derive(Debug)]
pub(super) enum FetchError {
    /// Worth retrying after a while: a network error, a 5xx, a body cut
    /// short.
    Transient(String),
    /// The seed cannot serve this torrent: drop it.
    Fatal(String),
    /// The seed or torrent is stopping.
    Cancelled,
}

/// Fetches `blocks` (sorted by piece and offset) and delivers them in
/// order; returns how many were delivered, and the error that stopped the
/// rest, if any. A server that ignores `Range` may leave `blocks` longer:
/// the pieces after the last one, claimed while its body went on
/// (`get_range`).
pub(super) async fn fetch_blocks(
    ctx: &SeedContext,
    client: &reqwest::Client,
    evidence: IpAddr,
    blocks: &mut Vec<BlockRef>,
) -> (usize, Result<(), FetchError>) {
    let mut sink = Sink {
        ctx,
        evidence,
        blocks: std::mem::take(blocks),
        next: 0,
        buf: BytesMut::new(),
    };
    let pl = ctx.piece_length;
    let at = |b: &BlockRef| b.piece.0 as u64 * pl + b.offset as u64;
    let mut i = 0;
    let mut result = Ok(());
    while i < sink.blocks.len() {
        // The run of consecutive blocks from `i`.
        let start = at(&sink.blocks[i]);
        let mut end = start + sink.blocks[i].len as u64;
        let mut j = i + 1;
        while j < sink.blocks.len() && at(&sink.blocks[j]) == end {
            end += sink.blocks[j].len as u64;
            j += 1;
        }
        if let Err(e) = fetch_run(ctx, client, &mut sink, start, end - start).await {
            result = Err(e);
            break;
        }
        // Claimed blocks were delivered with the run.
        i = j.max(sink.next);
    }
    *blocks = sink.blocks;
    (sink.next, result)
}

/// Fetches `len` bytes of the torrent's byte stream from `start` into
/// `sink`, file by file.
async fn fetch_run(
    ctx: &SeedContext,
    client: &reqwest::Client,
    sink: &mut Sink<'_>,
    start: u64,
    len: u64,
) -> Result<(), FetchError> {
    let spans: Vec<_> = ctx.layout.spans(start, len).collect();
    for span in spans {
        let file = &ctx.layout.files[span.file];
        if file.pad {
            let zeros = vec![0u8; span.len as usize];
            sink.push(&zeros).await?;
            continue;
        }
        let url = ctx.files.url(&ctx.base, span.file);
        get_range(
            ctx,
            client,
            sink,
            url,
            span.file,
            span.file_offset,
            span.len,
        )
        .await?;
    }
    Ok(())
}

/// One `GET` of `len` bytes at `from` of file `file`.
async fn get_range(
    ctx: &SeedContext,
    client: &reqwest::Client,
    sink: &mut Sink<'_>,
    url: reqwest::Url,
    file: usize,
    from: u64,
    len: u64,
) -> Result<(), FetchError> {
    let file_len = ctx.layout.files[file].length;
    let last = from + len - 1;
    let req = client
        .get(url.clone())
        .header(RANGE, format!("bytes={from}-{last}"))
        .send();
    let resp = tokio::select! {
        _ = ctx.cancel.cancelled() => return Err(FetchError::Cancelled),
        r = tokio::time::timeout(READ_TIMEOUT, req) => match r {
            Err(_) => return Err(FetchError::Transient(format!("{url}: no answer in {} s", READ_TIMEOUT.as_secs()))),
            Ok(Err(e)) if e.is_redirect() => return Err(FetchError::Fatal(format!("{url}: {}", chain(&e)))),
            Ok(Err(e)) => return Err(FetchError::Transient(format!("{url}: {}", chain(&e)))),
            Ok(Ok(r)) => r,
        },
    };
    let status = resp.status();
    let mut skip = match status {
        StatusCode::PARTIAL_CONTENT => {
            check_content_range(&resp, from, last, file_len)
                .map_err(|e| FetchError::Fatal(format!("{url}: {e}")))?;
            0
        }
        StatusCode::OK => {
            // The whole file from its first byte: the server ignores Range.
            if let Some(n) = header_u64(&resp, CONTENT_LENGTH) {
                if n != file_len {
                    return Err(FetchError::Fatal(format!(
                        "{url}: the file has {n} bytes, the torrent says {file_len}"
                    )));
                }
            }
            ctx.shared.ignores_ranges.store(true, Ordering::Relaxed);
            from
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            return Err(FetchError::Fatal(format!(
                "{url}: HTTP 416, the file is shorter than the torrent says"
            )))
        }
        s if s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS =>
        {
            return Err(FetchError::Transient(format!("{url}: HTTP {s}")))
        }
        s => return Err(FetchError::Fatal(format!("{url}: HTTP {s}"))),
    };
    let whole_file = status == StatusCode::OK;
    let mut resp = resp;
    let mut left = len;
    let mut got = 0u64;
    // Bytes of the last chunk not used yet.
    let mut rest = Bytes::new();
    loop {
        if left == 0 {
            // A whole-file body goes on past what we asked: rather than
            // read the file from its start again for the next request,
            // claim the pieces that follow in this file and keep reading.
            if !whole_file || sink.next < sink.blocks.len() {
                break;
            }
            let more = claim_next(ctx, file, from + got).await?;
            let Some(first) = more.first() else { break };
            let at = first.piece.0 as u64 * ctx.piece_length + first.offset as u64;
            if at != ctx.layout.files[file].offset + from + got {
                // Not where the body is: hand them back with the rest.
                sink.blocks.extend(more);
                break;
            }
            left = more.iter().map(|b| b.len as u64).sum();
            sink.blocks.extend(more);
            continue;
        }
        if rest.is_empty() {
            rest = tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(FetchError::Cancelled),
                r = tokio::time::timeout(READ_TIMEOUT, resp.chunk()) => match r {
                    Err(_) => return Err(FetchError::Transient(format!("{url}: the body stalled for {} s", READ_TIMEOUT.as_secs()))),
                    Ok(Err(e)) => return Err(FetchError::Transient(format!("{url}: {}", chain(&e)))),
                    Ok(Ok(None)) => return Err(FetchError::Transient(format!(
                        "{url}: short body, {got} of {} bytes", got + left
                    ))),
                    Ok(Ok(Some(c))) => c,
                },
            };
        }
        if skip > 0 {
            let n = skip.min(rest.len() as u64) as usize;
            skip -= n as u64;
            rest = rest.slice(n..);
        }
        // What the chunk holds past `left` stays for claimed blocks.
        let take = left.min(rest.len() as u64) as usize;
        if take > 0 {
            let part = rest.split_to(take);
            sink.push(&part).await?;
            left -= take as u64;
            got += take as u64;
        }
    }
    // Whatever else the body holds is not read: dropping the response
    // closes the connection when it is unfinished.
    Ok(())
}

/// Asks the torrent for the waiting pieces that follow byte `pos` of
/// `file` and lie wholly in it (none unless `pos` starts a piece).
async fn claim_next(ctx: &SeedContext, file: usize, pos: u64) -> Result<Vec<BlockRef>, FetchError> {
    let f = &ctx.layout.files[file];
    let (pl, at, end) = (ctx.piece_length, f.offset + pos, f.offset + f.length);
    if pos >= f.length || at % pl != 0 {
        return Ok(Vec::new());
    }
    let last_inside = if end == ctx.layout.total_length {
        ctx.layout.num_pieces().saturating_sub(1)
    } else {
        match (end / pl).checked_sub(1) {
            Some(p) => p as u32,
            None => return Ok(Vec::new()),
        }
    };
    let (reply, rx) = tokio::sync::oneshot::channel();
    let claim = WebSeedEvent::Claim {
        first: (at / pl) as u32,
        last: last_inside,
        max_blocks: (super::MAX_REQUEST_BYTES / crate::types::BLOCK_LEN as u64) as usize,
        reply,
    };
    if ctx.events.send((ctx.key, claim)).await.is_err() {
        return Err(FetchError::Cancelled);
    }
    tokio::select! {
        _ = ctx.cancel.cancelled() => Err(FetchError::Cancelled),
        r = rx => Ok(r.unwrap_or_default()),
    }
}

/// A 206 answer must be for the range asked, of a file of the size the
/// torrent says.
fn check_content_range(
    resp: &reqwest::Response,
    from: u64,
    last: u64,
    file_len: u64,
) -> Result<(), String> {
    let v = resp
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .ok_or("a 206 answer without Content-Range")?;
    let parsed = parse_content_range(v);
    let Some((a, b, total)) = parsed else {
        return Err(format!("unreadable Content-Range {v:?}"));
    };
    if let Some(t) = total {
        if t != file_len {
            return Err(format!(
                "the file has {t} bytes, the torrent says {file_len}"
            ));
        }
    }
    if (a, b) != (from, last) {
        return Err(format!("asked bytes {from}-{last}, got {a}-{b}"));
    }
    Ok(())
}

/// `bytes FIRST-LAST/TOTAL` (TOTAL may be `*`).
fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
}

fn header_u64(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

/// An error and its sources, joined with ": " (reqwest's own message hides
/// the interesting part, such as "Connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Cuts the bytes of a run into its blocks and delivers each one whole.
struct Sink<'a> {
    ctx: &'a SeedContext,
    /// The address the disk names as the blocks' sender.
    evidence: IpAddr,
    /// The blocks being fetched, in order (claimed ones appended).
    blocks: Vec<BlockRef>,
    /// The block being filled; blocks before it are delivered.
    next: usize,
    /// Bytes of `blocks[next]` so far.
    buf: BytesMut,
}

impl Sink<'_> {
    async fn push(&mut self, mut data: &[u8]) -> Result<(), FetchError> {
        while !data.is_empty() {
            let Some(block) = self.blocks.get(self.next).copied() else {
                // More bytes than blocks: `fetch_run` asks for exactly the
                // blocks' bytes, so this is not reached.
                return Ok(());
            };
            let room = block.len as usize - self.buf.len();
            let n = room.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == block.len as usize {
                let bytes: Bytes = std::mem::take(&mut self.buf).freeze();
                self.ctx
                    .disk
                    .write_block_from(block, bytes, self.evidence)
                    .await
                    .map_err(|e| FetchError::Transient(format!("disk: {e}")))?;
                self.ctx.shared.downloaded.add(block.len as u64);
                self.next += 1;
                if self
                    .ctx
                    .events
                    .send((self.ctx.key, WebSeedEvent::Received(block)))
                    .await
                    .is_err()
                {
                    return Err(FetchError::Cancelled);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, 9, Some(10))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        for bad in ["bytes 0-9", "0-9/10", "bytes a-9/10", "bytes 0-9/x", ""] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
