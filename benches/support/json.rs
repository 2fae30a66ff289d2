//! A deterministic JSON workload for the compression figures: messages of
//! 1-4 KiB as a market-data or chat service would push them, with the same
//! keys in every message and varied values (ids, prices, timestamps, names).

/// xorshift64*: small, fast and the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi` (close enough for a workload).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() as usize % items.len()]
    }
}

const SYMBOLS: &[&str] = &[
    "BTC-USD", "ETH-USD", "SOL-USD", "ETH-BTC", "DOGE-USD", "ADA-EUR",
];
const VENUES: &[&str] = &["coinbase", "kraken", "bitstamp", "gemini"];
const FIRST: &[&str] = &[
    "Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Radia",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie",
];
const STATUS: &[&str] = &["online", "away", "busy", "offline"];
const ROLES: &[&str] = &[
    "\"member\"",
    "\"member\",\"moderator\"",
    "\"admin\"",
    "\"guest\"",
];

fn timestamp(rng: &mut Rng, base_ms: u64) -> String {
    let ms = base_ms + rng.range(0, 60_000);
    let (s, ms) = (ms / 1000, ms % 1000);
    format!(
        "2024-05-01T{:02}:{:02}:{:02}.{ms:03}Z",
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

fn trade(rng: &mut Rng, price: u64, base_ms: u64) -> String {
    format!(
        r#"{{"id":{},"price":"{}.{:02}","size":"0.{:05}","side":"{}","liquidation":{},"venue":"{}","ts":"{}"}}"#,
        rng.range(100_000_000, 999_999_999),
        price / 100,
        price % 100,
        rng.range(1, 99_999),
        if rng.next() % 2 == 0 { "buy" } else { "sell" },
        rng.next() % 50 == 0,
        rng.pick(VENUES),
        timestamp(rng, base_ms)
    )
}

fn user(rng: &mut Rng) -> String {
    format!(
        r#"{{"id":"u_{:08x}","name":"{} {}","status":"{}","last_seen":{},"avatar":"https://cdn.example.com/avatars/{:08x}.png","roles":[{}],"unread":{}}}"#,
        rng.next() as u32,
        rng.pick(FIRST),
        rng.pick(LAST),
        rng.pick(STATUS),
        1_714_521_600 + rng.range(0, 86_400),
        rng.next() as u32,
        rng.pick(ROLES),
        rng.range(0, 120)
    )
}

fn book_level(rng: &mut Rng, price: u64) -> String {
    format!(
        r#"{{"price":"{}.{:02}","size":"{}.{:04}","orders":{}}}"#,
        price / 100,
        price % 100,
        rng.range(0, 20),
        rng.range(0, 10_000),
        rng.range(1, 30)
    )
}

/// `count` messages; message `i` is one of three kinds (trades, presence,
/// order book), sized to a target drawn from 1-4 KiB by adding array
/// elements until it is reached.
pub fn corpus(count: usize) -> Vec<String> {
    let mut rng = Rng::new(0x5EED_0000_0003);
    let mut seq = 1_000_000u64;
    (0..count)
        .map(|i| {
            let target = rng.range(1024, 4096) as usize;
            let base_ms = 36_000_000 + i as u64 * 250;
            seq += rng.range(1, 50);
            let symbol = rng.pick(SYMBOLS);
            let mut s = match i % 3 {
                0 => format!(
                    r#"{{"type":"trades","channel":"market.{symbol}","seq":{seq},"time":"{}","data":["#,
                    timestamp(&mut rng, base_ms)
                ),
                1 => format!(
                    r#"{{"type":"presence","room":"room-{}","seq":{seq},"users":["#,
                    rng.range(1, 40)
                ),
                _ => format!(
                    r#"{{"type":"book","symbol":"{symbol}","seq":{seq},"time":"{}","bids":["#,
                    timestamp(&mut rng, base_ms)
                ),
            };
            let mut price = rng.range(2_000_000, 7_000_000);
            let mut first = true;
            while s.len() + 2 < target {
                if !first {
                    s.push(',');
                }
                first = false;
                let item = match i % 3 {
                    0 => {
                        // A random walk of a few cents from trade to trade.
                        price = (price + rng.range(0, 200)).saturating_sub(100);
                        trade(&mut rng, price, base_ms)
                    }
                    1 => user(&mut rng),
                    _ => {
                        price = price.saturating_sub(rng.range(1, 500));
                        book_level(&mut rng, price)
                    }
                };
                s.push_str(&item);
            }
            s.push_str("]}");
            s
        })
        .collect()
}
