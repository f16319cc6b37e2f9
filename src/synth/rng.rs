//! A tiny seeded PRNG (splitmix64). Every document draws from its own stream,
//! derived from (seed, stream tag, index), so any document can be rebuilt on
//! its own and the output never depends on what was generated before it.

pub(crate) struct Rng(u64);

/// Stream tags: one per kind of thing drawn, so that e.g. patient 7 is the
/// same person in a card, a list page, an appointment and a FHIR resource.
pub(crate) mod stream {
    pub const PATIENT: u64 = 1;
    pub const DOCTOR: u64 = 2;
    pub const LAYOUT: u64 = 3;
    pub const PAGE: u64 = 4;
}

impl Rng {
    pub(crate) fn new(seed: u64, tag: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ 0x5a61_736c_6f6e_0001);
        let a = r.next_u64();
        let mut r = Rng(a ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let b = r.next_u64();
        Rng(b ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the multiply-high bias is below 2^-32 here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Uniform in `lo..hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).max(1))
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One of `items` (string tables).
    pub(crate) fn one(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len() as u64) as usize]
    }

    pub(crate) fn digit(&mut self) -> u8 {
        self.below(10) as u8
    }

    /// `n` random decimal digits (leading zeros allowed).
    pub(crate) fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.digit())).collect()
    }

    /// `n` random characters from `alphabet` (ASCII only).
    pub(crate) fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| char::from(*self.pick(alphabet))).collect()
    }
}
