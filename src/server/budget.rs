//! What one connection, and one client address, may cost the server.
//!
//! A board is a link anyone can open, so no sender may take more than its
//! share: each connection spends from token buckets (ephemeral frames and
//! bytes, durable requests) before anything reaches its room. A frame over
//! budget is dropped for that sender alone, who is told (`rate_limited`);
//! everyone else on the board never notices. Dropping costs the sender
//! patience, which comes back slowly: a sender that stays over budget runs
//! out of it and is closed (1008). Separately, one address may hold only so
//! many connections at once, and ask for a board's links only so often.
//!
//! The buckets are plain numbers owned by one connection's task (no
//! sharing, no atomics), with the time passed in, so their rules are
//! unit-tested without waiting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// The configured budgets (see `Config`), per connection unless named.
#[derive(Debug, Clone, Copy)]
pub struct Budgets {
    /// Ephemeral frames (previews, drafts, cursors, ...) per second.
    pub ephemeral_frames: f64,
    /// Bytes of ephemeral frames per second.
    pub ephemeral_bytes: f64,
    /// Durable requests per second.
    pub durable: f64,
    /// Connections one client address may hold at once.
    pub connections_per_address: u32,
}

/// Link requests one address may make at once before it has to wait.
pub const LINK_REQUEST_BURST: f64 = 10.0;
/// Image uploads one address may make at once (a pasted or dropped batch)
/// before it has to wait.
pub const IMAGE_UPLOAD_BURST: f64 = 20.0;
/// Addresses whose requests are remembered; past that, those whose
/// bucket has filled up again (they asked nothing for a while) are
/// forgotten, so a flood from many addresses costs bounded memory.
const REMEMBERED_ADDRESSES: usize = 10_000;

/// How often each client address may make one kind of HTTP request that
/// writes to the store (asking for a board's links, uploading an image),
/// shared by all of this instance's requests of that kind.
#[derive(Debug, Clone)]
pub struct RequestsPerAddress {
    per_second: f64,
    burst: f64,
    buckets: Arc<Mutex<HashMap<IpAddr, TokenBucket>>>,
}

impl RequestsPerAddress {
    /// `per_minute` requests, of which `burst` may come at once.
    pub fn new(per_minute: u32, burst: f64) -> Self {
        Self {
            per_second: f64::from(per_minute) / 60.0,
            burst,
            buckets: Arc::default(),
        }
    }

    /// Whether `address` may make one more request now.
    pub fn admit(&self, address: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= REMEMBERED_ADDRESSES && !buckets.contains_key(&address) {
            buckets.retain(|_, bucket| !bucket.is_full(now));
            if buckets.len() >= REMEMBERED_ADDRESSES {
                return false; // Every remembered address is busy: a flood.
            }
        }
        buckets
            .entry(address)
            .or_insert_with(|| TokenBucket::new(self.per_second, self.burst, now))
            .take(1.0, now)
    }
}

/// Bursts may spend this many seconds' worth of a budget at once.
const BURST_SECONDS: f64 = 2.0;
/// Durable requests may come in a larger burst: a tab that reconnects
/// sends everything it kept while offline at once.
const DURABLE_BURST_SECONDS: f64 = 10.0;
/// Frames a sender may have dropped (beyond what patience regains) before
/// it is taken for abusive.
const PATIENCE: f64 = 1_000.0;
/// Dropped frames forgiven per second.
const PATIENCE_PER_SECOND: f64 = 10.0;
/// At most one `rate_limited` notice for ephemeral frames this often (each
/// durable request dropped is answered, so its sender can keep it).
const NOTICE_EVERY: Duration = Duration::from_secs(1);

/// A token bucket: `rate` tokens a second, at most `burst` kept.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes `amount` tokens if the bucket has them.
    pub fn take(&mut self, amount: f64, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }

    /// Whether the bucket has filled up again (nothing was taken for a while).
    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }

    /// Adds what came in since it was last looked at.
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }
}

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within budget: pass it on.
    Pass,
    /// Over budget: drop it; `notify` says whether to tell the sender now.
    Drop { notify: bool },
    /// Over budget for too long: close the connection (1008).
    Close,
}

/// One connection's budgets.
#[derive(Debug, Clone)]
pub struct ConnectionBudget {
    ephemeral_frames: TokenBucket,
    ephemeral_bytes: TokenBucket,
    durable: TokenBucket,
    patience: TokenBucket,
    last_notice: Option<Instant>,
}

impl ConnectionBudget {
    pub fn new(budgets: &Budgets, now: Instant) -> Self {
        Self {
            ephemeral_frames: TokenBucket::new(
                budgets.ephemeral_frames,
                budgets.ephemeral_frames * BURST_SECONDS,
                now,
            ),
            ephemeral_bytes: TokenBucket::new(
                budgets.ephemeral_bytes,
                budgets.ephemeral_bytes * BURST_SECONDS,
                now,
            ),
            durable: TokenBucket::new(
                budgets.durable,
                budgets.durable * DURABLE_BURST_SECONDS,
                now,
            ),
            patience: TokenBucket::new(PATIENCE_PER_SECOND, PATIENCE, now),
            last_notice: None,
        }
    }

    /// An ephemeral frame of `bytes`.
    pub fn ephemeral(&mut self, bytes: usize, now: Instant) -> Admission {
        // A frame passes only if both buckets have room for it, and a
        // dropped frame costs neither.
        let (frames, size) = (&mut self.ephemeral_frames, &mut self.ephemeral_bytes);
        frames.refill(now);
        size.refill(now);
        if frames.tokens >= 1.0 && size.tokens >= bytes as f64 {
            frames.tokens -= 1.0;
            size.tokens -= bytes as f64;
            return Admission::Pass;
        }
        let notify = self
            .last_notice
            .is_none_or(|last| now.saturating_duration_since(last) >= NOTICE_EVERY);
        if notify {
            self.last_notice = Some(now);
        }
        self.dropped(notify, now)
    }

    /// A durable request. Every one dropped is answered (`notify`).
    pub fn durable(&mut self, now: Instant) -> Admission {
        if self.durable.take(1.0, now) {
            return Admission::Pass;
        }
        self.dropped(true, now)
    }

    fn dropped(&mut self, notify: bool, now: Instant) -> Admission {
        if self.patience.take(1.0, now) {
            Admission::Drop { notify }
        } else {
            Admission::Close
        }
    }
}

/// How many connections each client address holds, shared by all
/// connections of this instance.
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One connection counted against its address, until dropped.
#[derive(Debug)]
pub struct AddressSlot {
    addresses: Addresses,
    address: IpAddr,
}

impl Addresses {
    /// Counts a new connection from `address`, or `None` when the address
    /// already holds `most`.
    pub fn enter(&self, address: IpAddr, most: u32) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(address).or_insert(0);
        if *count >= most {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            addresses: self.clone(),
            address,
        })
    }

    /// Addresses with at least one connection.
    pub fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self
            .addresses
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                // Forgotten when its last connection goes: the map holds
                // only addresses that are connected now.
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budgets() -> Budgets {
        Budgets {
            ephemeral_frames: 100.0,
            ephemeral_bytes: 10_000.0,
            durable: 10.0,
            connections_per_address: 2,
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 20.0, start);
        assert_eq!((0..25).filter(|_| bucket.take(1.0, start)).count(), 20);
        let later = start + Duration::from_millis(500);
        assert_eq!((0..25).filter(|_| bucket.take(1.0, later)).count(), 5);
        // Never more than the burst, however long it rested.
        let much_later = later + Duration::from_secs(3_600);
        assert_eq!((0..50).filter(|_| bucket.take(1.0, much_later)).count(), 20);
    }

    #[test]
    fn link_requests_are_counted_per_address_and_idle_addresses_forgotten() {
        let start = Instant::now();
        let links = RequestsPerAddress::new(60, LINK_REQUEST_BURST);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let burst = LINK_REQUEST_BURST as usize;
        assert_eq!((0..20).filter(|_| links.admit(a, start)).count(), burst);
        assert!(links.admit(b, start), "another address has its own budget");
        assert!(
            links.admit(a, start + Duration::from_secs(1)),
            "one a second comes back"
        );
        // A flood from many addresses: memory stays bounded, busy addresses
        // are refused, idle ones forgotten.
        let many = |i: u32| IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        for i in 0..REMEMBERED_ADDRESSES as u32 {
            links.admit(many(i), start);
        }
        assert!(!links.admit(many(u32::MAX >> 8), start));
        let rested = start + Duration::from_secs(60);
        assert!(links.admit(many(u32::MAX >> 8), rested));
        assert!(links.buckets.lock().unwrap().len() < REMEMBERED_ADDRESSES);
    }

    #[test]
    fn ephemeral_frames_over_budget_are_dropped_and_the_sender_told_once_a_second() {
        let start = Instant::now();
        let mut budget = ConnectionBudget::new(&budgets(), start);
        let admitted: Vec<Admission> = (0..250).map(|_| budget.ephemeral(10, start)).collect();
        assert_eq!(
            admitted.iter().filter(|a| **a == Admission::Pass).count(),
            200
        );
        let notices = admitted
            .iter()
            .filter(|a| **a == Admission::Drop { notify: true })
            .count();
        assert_eq!(notices, 1);
        // A second later: within budget again, and told again when over.
        let later = start + Duration::from_secs(1);
        assert_eq!(budget.ephemeral(10, later), Admission::Pass);
        while budget.ephemeral(10, later) == Admission::Pass {}
        assert_eq!(
            budget.ephemeral(10, later),
            Admission::Drop { notify: false }
        );
    }

    #[test]
    fn bytes_count_too_and_a_dropped_frame_costs_nothing() {
        let start = Instant::now();
        let mut budget = ConnectionBudget::new(&budgets(), start);
        // 20,000 bytes of burst: two big frames, then a small one still fits
        // because the refused third big one took nothing.
        assert_eq!(budget.ephemeral(9_000, start), Admission::Pass);
        assert_eq!(budget.ephemeral(9_000, start), Admission::Pass);
        assert!(matches!(
            budget.ephemeral(9_000, start),
            Admission::Drop { .. }
        ));
        assert_eq!(budget.ephemeral(1_000, start), Admission::Pass);
    }

    #[test]
    fn a_sender_that_stays_over_budget_runs_out_of_patience() {
        let start = Instant::now();
        let mut budget = ConnectionBudget::new(&budgets(), start);
        // Within its budget for a long time: never closed.
        for second in 0..100 {
            let now = start + Duration::from_secs(second);
            for _ in 0..100 {
                assert_eq!(budget.ephemeral(10, now), Admission::Pass);
            }
        }
        // Flooding: dropped, then closed after about PATIENCE drops.
        let now = start + Duration::from_secs(100);
        let until_closed = (0..10_000)
            .position(|_| budget.ephemeral(10, now) == Admission::Close)
            .expect("closed");
        assert!((1_000..1_300).contains(&until_closed), "{until_closed}");
    }

    #[test]
    fn durable_requests_have_their_own_budget_and_each_refusal_is_told() {
        let start = Instant::now();
        let mut budget = ConnectionBudget::new(&budgets(), start);
        assert_eq!(
            (0..100)
                .filter(|_| budget.durable(start) == Admission::Pass)
                .count(),
            100
        );
        assert_eq!(budget.durable(start), Admission::Drop { notify: true });
        assert_eq!(budget.durable(start), Admission::Drop { notify: true });
        assert_eq!(
            budget.ephemeral(10, start),
            Admission::Pass,
            "other lanes unaffected"
        );
    }

    #[test]
    fn an_address_holds_at_most_its_connections_and_is_forgotten_when_gone() {
        let addresses = Addresses::default();
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        let there: IpAddr = "192.0.2.2".parse().unwrap();
        let first = addresses.enter(here, 2).expect("first");
        let second = addresses.enter(here, 2).expect("second");
        assert!(addresses.enter(here, 2).is_none());
        let elsewhere = addresses.enter(there, 2).expect("another address");
        drop(first);
        let third = addresses.enter(here, 2).expect("a slot came free");
        drop((second, third, elsewhere));
        assert!(addresses.is_empty());
    }
}
