//! The bytes of the buffered events, in acceptance order, packed into chunks of about 64 KiB.
//!
//! Appending costs one copy and, once a chunk is warm, no allocation; releasing the oldest
//! event costs a few integer updates, and a chunk is freed (or, the last one, reused) when all
//! its events are released. This is what makes `add` cost about a memory copy: no allocation
//! and no free per event, and nothing that another thread must free later.

use crate::config::Format;
use std::collections::VecDeque;

/// The usual chunk size; a larger event gets a chunk of its own size.
const CHUNK_BYTES: usize = 64 * 1024;

struct Chunk {
    data: Vec<u8>,
    /// End offset in `data` of each event.
    ends: Vec<u32>,
    /// Events at the front already released.
    released: usize,
}

impl Chunk {
    fn new(min_bytes: usize) -> Chunk {
        Chunk { data: Vec::with_capacity(CHUNK_BYTES.max(min_bytes)), ends: Vec::with_capacity(512), released: 0 }
    }

    fn live(&self) -> usize {
        self.ends.len() - self.released
    }

    /// The bytes of event `i` of this chunk (counting released ones).
    fn event(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }
}

/// Buffered events numbered from `head`.
pub(crate) struct EventLog {
    chunks: VecDeque<Chunk>,
    head: u64,
    len: usize,
    bytes: usize,
}

impl EventLog {
    pub(crate) fn new() -> EventLog {
        EventLog { chunks: VecDeque::new(), head: 0, len: 0, bytes: 0 }
    }

    /// Sequence number of the oldest buffered event.
    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    /// Sequence number the next event gets.
    pub(crate) fn tail(&self) -> u64 {
        self.head + self.len as u64
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn push(&mut self, event: &[u8]) {
        let fits = self.chunks.back().is_some_and(|c| c.data.len() + event.len() <= c.data.capacity().max(CHUNK_BYTES));
        if !fits {
            self.chunks.push_back(Chunk::new(event.len()));
        }
        if let Some(chunk) = self.chunks.back_mut() {
            chunk.data.extend_from_slice(event);
            chunk.ends.push(chunk.data.len() as u32);
            self.len += 1;
            self.bytes += event.len();
        }
    }

    /// Releases the oldest event; false when there is none.
    pub(crate) fn pop_front(&mut self) -> bool {
        let several = self.chunks.len() > 1;
        let Some(chunk) = self.chunks.front_mut() else {
            return false;
        };
        if chunk.live() == 0 {
            return false;
        }
        self.bytes -= chunk.event(chunk.released).len();
        chunk.released += 1;
        self.len -= 1;
        self.head += 1;
        if chunk.live() == 0 {
            if several {
                self.chunks.pop_front();
            } else {
                // The only chunk: keep its memory for the events to come.
                chunk.data.clear();
                chunk.ends.clear();
                chunk.released = 0;
            }
        }
        true
    }

    /// Calls `f` with each of the `count` events from sequence number `first`, in order.
    fn for_each(&self, first: u64, count: usize, mut f: impl FnMut(&[u8])) {
        let mut skip = (first - self.head) as usize;
        let mut left = count;
        for chunk in &self.chunks {
            if left == 0 {
                break;
            }
            let live = chunk.live();
            if skip >= live {
                skip -= live;
                continue;
            }
            let from = chunk.released + skip;
            let to = (from + left).min(chunk.ends.len());
            for i in from..to {
                f(chunk.event(i));
            }
            left -= to - from;
            skip = 0;
        }
    }

    /// Lays out the `count` events from `first` as one batch in `format`.
    pub(crate) fn batch(&self, first: u64, count: usize, format: Format) -> Vec<u8> {
        let mut size = 2;
        self.for_each(first, count, |e| size += e.len() + 1);
        let mut out = Vec::with_capacity(size);
        match format {
            Format::Json => {
                out.push(b'[');
                self.for_each(first, count, |e| {
                    if out.len() > 1 {
                        out.push(b',');
                    }
                    out.extend_from_slice(e);
                });
                out.push(b']');
            }
            Format::JsonLines => self.for_each(first, count, |e| {
                out.extend_from_slice(e);
                out.push(b'\n');
            }),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize, size: usize) -> Vec<u8> {
        let mut e = format!("{{\"i\":{i},\"pad\":\"").into_bytes();
        e.resize(size - 2, b'x');
        e.extend_from_slice(b"\"}");
        e
    }

    #[test]
    fn events_come_back_in_order_across_chunks_and_releases() {
        let mut log = EventLog::new();
        let events: Vec<Vec<u8>> = (0..2000).map(|i| event(i, 100 + i % 50)).collect();
        for e in &events {
            log.push(e);
        }
        assert!(log.chunks.len() > 2, "spread over several chunks");
        assert_eq!((log.len(), log.tail()), (2000, 2000));
        assert_eq!(log.bytes(), events.iter().map(Vec::len).sum::<usize>());
        for _ in 0..700 {
            assert!(log.pop_front());
        }
        assert_eq!(log.head(), 700);
        let batch = log.batch(900, 600, Format::JsonLines);
        let expected: Vec<u8> = events[900..1500].iter().flat_map(|e| e.iter().copied().chain([b'\n'])).collect();
        assert_eq!(batch, expected);
        let json = log.batch(700, 3, Format::Json);
        assert_eq!(json, [b"[".as_slice(), &events[700], b",", &events[701], b",", &events[702], b"]"].concat());
        assert_eq!(log.bytes(), events[700..].iter().map(Vec::len).sum::<usize>());
    }

    #[test]
    fn released_chunks_are_freed_and_the_last_is_reused() {
        let mut log = EventLog::new();
        for i in 0..2000 {
            log.push(&event(i, 200));
        }
        while log.pop_front() {}
        assert_eq!((log.len(), log.bytes(), log.head()), (0, 0, 2000));
        assert_eq!(log.chunks.len(), 1);
        log.push(&event(0, 200));
        assert_eq!(log.batch(2000, 1, Format::Json), [b"[".as_slice(), &event(0, 200), b"]"].concat());
        assert!(!EventLog::new().pop_front());
    }

    #[test]
    fn an_event_larger_than_a_chunk_gets_one_of_its_own() {
        let mut log = EventLog::new();
        log.push(&event(0, 10));
        let big = event(1, 3 * CHUNK_BYTES);
        log.push(&big);
        log.push(&event(2, 10));
        assert_eq!(log.batch(1, 1, Format::JsonLines), [big.as_slice(), b"\n"].concat());
        assert_eq!(log.batch(0, 3, Format::JsonLines).len(), 10 + big.len() + 10 + 3);
    }
}
