//! Which handles are alive: a table keyed by address. A handle is checked
//! here before its memory is read, so a freed pointer, a pointer to another
//! handle type or one this library never made is refused without touching
//! what it points to. Each entry has a generation, so code that keeps a
//! pointer across a callback can tell a freed (and possibly reused) address
//! from the handle it had.
//!
//! Every message received through the C API passes through here three or
//! four times, so the table is a hash map with a hash of one multiply (the
//! keys are heap addresses, not chosen by a caller): no tree walk, no
//! SipHash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// What the registry knows about a live handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The handle type's tag ([`crate::ffi::handle::Tagged::TAG`]).
    pub tag: u64,
    /// False for views owned by another handle (frames of a message): those
    /// are freed with their owner, never on their own.
    pub owned: bool,
    /// A panic was caught while the handle was borrowed: its state may be
    /// torn, so every later call on it fails (only freeing still works).
    pub poisoned: bool,
    /// Unique over the process's life: a new handle at a reused address has
    /// another generation.
    pub generation: u64,
}

/// Fibonacci hashing of an address: the multiply spreads the bits that
/// differ between heap blocks over the high bits the table uses.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, addr: usize) {
        self.0 = (addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Table = HashMap<usize, Entry, BuildHasherDefault<AddressHasher>>;

/// Shards keep threads working on different handles off each other's lock.
const SHARDS: usize = 16;
static LIVE: [Mutex<Option<Table>>; SHARDS] = [const { Mutex::new(None) }; SHARDS];
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// The shard's table, made on first use (a `HashMap` cannot be built in a
/// `static`).
struct Shard(MutexGuard<'static, Option<Table>>);

impl Shard {
    fn table(&mut self) -> &mut Table {
        self.0.get_or_insert_with(Table::default)
    }
}

fn shard(addr: usize) -> Shard {
    // Boxes are at least 8-aligned: the low bits carry no information.
    Shard(
        LIVE[(addr >> 4) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    )
}

pub fn insert(addr: usize, tag: u64, owned: bool) {
    let entry = Entry {
        tag,
        owned,
        poisoned: false,
        generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
    };
    shard(addr).table().insert(addr, entry);
}

pub fn lookup(addr: usize) -> Option<Entry> {
    shard(addr).table().get(&addr).copied()
}

/// Remove the entry if it is an owned handle of type `tag`; false (and no
/// change) otherwise.
pub fn remove_owned(addr: usize, tag: u64) -> bool {
    let mut shard = shard(addr);
    let live = shard.table();
    match live.get(&addr) {
        Some(e) if e.tag == tag && e.owned => live.remove(&addr).is_some(),
        _ => false,
    }
}

/// Remove a view's entry (its owner is being freed).
pub fn remove_view(addr: usize) {
    shard(addr).table().remove(&addr);
}

pub fn poison(addr: usize) {
    if let Some(e) = shard(addr).table().get_mut(&addr) {
        e.poisoned = true;
    }
}
