//! Which handles are alive: a table keyed by address. A handle is checked
//! here before its memory is read, so a freed pointer, a pointer to another
//! handle type or one this library never made is refused without touching
//! what it points to. Each entry has a generation, so code that keeps a
//! pointer across a callback can tell a freed (and possibly reused) address
//! from the handle it had.

use std::collections::BTreeMap;
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

/// Shards keep threads working on different handles off each other's lock.
const SHARDS: usize = 16;
static LIVE: [Mutex<BTreeMap<usize, Entry>>; SHARDS] =
    [const { Mutex::new(BTreeMap::new()) }; SHARDS];
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn shard(addr: usize) -> MutexGuard<'static, BTreeMap<usize, Entry>> {
    // Boxes are at least 8-aligned: the low bits carry no information.
    LIVE[(addr >> 4) % SHARDS]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

pub fn insert(addr: usize, tag: u64, owned: bool) {
    let entry = Entry {
        tag,
        owned,
        poisoned: false,
        generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
    };
    shard(addr).insert(addr, entry);
}

pub fn lookup(addr: usize) -> Option<Entry> {
    shard(addr).get(&addr).copied()
}

/// Remove the entry if it is an owned handle of type `tag`; false (and no
/// change) otherwise.
pub fn remove_owned(addr: usize, tag: u64) -> bool {
    let mut live = shard(addr);
    match live.get(&addr) {
        Some(e) if e.tag == tag && e.owned => live.remove(&addr).is_some(),
        _ => false,
    }
}

/// Remove a view's entry (its owner is being freed).
pub fn remove_view(addr: usize) {
    shard(addr).remove(&addr);
}

pub fn poison(addr: usize) {
    if let Some(e) = shard(addr).get_mut(&addr) {
        e.poisoned = true;
    }
}
