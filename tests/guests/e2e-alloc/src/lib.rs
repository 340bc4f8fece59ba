//! Stresses the SDK's global allocator. Each request runs one round, seeded by
//! its `:path`: it allocates blocks of pseudo-random sizes (1 byte to 1 MiB,
//! some aligned to 64 or 4096 bytes), fills each with a pattern derived from
//! its index, grows and shrinks some, frees them in a shuffled order while
//! checking that every live block still holds its pattern, and answers with
//! `x-alloc: ok <blocks> <bytes> <pages>` (`pages`: the size of linear
//! memory after the round) or `x-alloc: corrupt <index>`.
// Wasm only: natively it would test the host's allocator, not the SDK's.
#![cfg(target_arch = "wasm32")]
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use sluice::{Action, HttpContext, RootContext, headers};

#[derive(RootContext)]
#[sluice(http = Stress)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Stress;

/// A block aligned to a cache line.
#[repr(C, align(64))]
struct Line([u8; 64]);

/// A block aligned to a page of 4 KiB.
#[repr(C, align(4096))]
struct Page([u8; 4096]);

enum Block {
    Bytes(Vec<u8>),
    Line(Box<Line>),
    Page(Box<Page>),
}

/// xorshift32: deterministic, no state outside the round.
fn next(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

fn pattern(index: usize, at: usize) -> u8 {
    (index.wrapping_mul(31) ^ at.wrapping_mul(7)) as u8
}

impl Block {
    fn new(index: usize, rng: &mut u32) -> Block {
        match next(rng) % 16 {
            0 => {
                let mut line = Box::new(Line([0; 64]));
                line.0.iter_mut().enumerate().for_each(|(at, b)| *b = pattern(index, at));
                Block::Line(line)
            }
            1 => {
                let mut page = Box::new(Page([0; 4096]));
                page.0.iter_mut().enumerate().for_each(|(at, b)| *b = pattern(index, at));
                Block::Page(page)
            }
            kind => {
                // Mostly small, sometimes up to 1 MiB.
                let size = match kind {
                    2 => (next(rng) % (1 << 20)) as usize,
                    3..=5 => (next(rng) % 8192) as usize,
                    _ => (next(rng) % 300) as usize + 1,
                };
                Block::Bytes((0..size).map(|at| pattern(index, at)).collect())
            }
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Block::Bytes(v) => v,
            Block::Line(l) => &l.0,
            Block::Page(p) => &p.0,
        }
    }

    fn aligned(&self) -> bool {
        match self {
            Block::Bytes(_) => true,
            Block::Line(l) => (&**l as *const Line as usize).is_multiple_of(64),
            Block::Page(p) => (&**p as *const Page as usize).is_multiple_of(4096),
        }
    }

    fn intact(&self, index: usize) -> bool {
        self.aligned() && self.bytes().iter().enumerate().all(|(at, b)| *b == pattern(index, at))
    }

    /// Grows or shrinks a byte block (through `realloc`), keeping the pattern.
    fn resize(&mut self, index: usize, rng: &mut u32) {
        if let Block::Bytes(v) = self {
            let size = (next(rng) % 20_000) as usize;
            if size < v.len() {
                v.truncate(size);
                v.shrink_to_fit();
            } else {
                let from = v.len();
                v.extend((from..size).map(|at| pattern(index, at)));
            }
        }
    }
}

/// One round; `Err(index)` names the first block found corrupt.
fn round(seed: u32) -> Result<(usize, usize), usize> {
    let mut rng = seed | 1;
    let mut live: Vec<(usize, Block)> = Vec::new();
    let mut total = 0;
    for index in 0..400 {
        let block = Block::new(index, &mut rng);
        total += block.bytes().len();
        live.push((index, block));
        if next(&mut rng) % 4 == 0 {
            let at = next(&mut rng) as usize % live.len();
            let (i, block) = &mut live[at];
            block.resize(*i, &mut rng);
        }
        if next(&mut rng) % 3 == 0 {
            let at = next(&mut rng) as usize % live.len();
            let (i, block) = live.swap_remove(at);
            if !block.intact(i) {
                return Err(i);
            }
        }
    }
    let blocks = live.len();
    while !live.is_empty() {
        let at = next(&mut rng) as usize % live.len();
        let (i, block) = live.swap_remove(at);
        if !block.intact(i) {
            return Err(i);
        }
    }
    Ok((blocks, total))
}

impl HttpContext for Stress {
    fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
        let path = headers::REQUEST.get(":path").ok().flatten().unwrap_or_default();
        let seed = path.iter().fold(2166136261u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(16777619));
        let verdict = match round(seed) {
            Ok((blocks, bytes)) => format!("ok {blocks} {bytes} {}", core::arch::wasm32::memory_size(0)),
            Err(index) => format!("corrupt {index}"),
        };
        let _ = headers::REQUEST.add("x-alloc", verdict);
        Action::Continue
    }
}
