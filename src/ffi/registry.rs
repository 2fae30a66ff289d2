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
//! SipHash. And each thread remembers the few handles it looked up last,
//! valid while their shard's epoch (moved by every removal and poisoning in
//! it) stays the same: a connection's handle is then checked without a lock.

use std::cell::RefCell;
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
/// Moved (under the shard's lock) whenever an entry of the shard is removed
/// or changed: a remembered entry of an older epoch may be stale.
static EPOCHS: [AtomicU64; SHARDS] = [const { AtomicU64::new(0) }; SHARDS];

/// This thread's last few lookups: (address, shard epoch, entry).
struct Recent {
    slots: [Option<(usize, u64, Entry)>; 4],
    next: usize,
}

impl Recent {
    fn find(&self, addr: usize, epoch: u64) -> Option<Entry> {
        self.slots
            .iter()
            .flatten()
            .find(|&&(a, e, _)| a == addr && e == epoch)
            .map(|&(_, _, entry)| entry)
    }

    fn remember(&mut self, addr: usize, epoch: u64, entry: Entry) {
        if let Some(slot) = self.slots.iter_mut().flatten().find(|s| s.0 == addr) {
            *slot = (addr, epoch, entry);
            return;
        }
        self.slots[self.next] = Some((addr, epoch, entry));
        self.next = (self.next + 1) % self.slots.len();
    }
}

thread_local! {
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent { slots: [None; 4], next: 0 })
    };
}

fn remember(addr: usize, epoch: u64, entry: Entry) {
    // After the thread's locals are gone (a handle used from a destructor
    // at thread exit), nothing is remembered.
    let _ = RECENT.try_with(|r| r.borrow_mut().remember(addr, epoch, entry));
}

fn shard_index(addr: usize) -> usize {
    // Boxes are at least 8-aligned: the low bits carry no information.
    (addr >> 4) % SHARDS
}

/// A shard's table, locked, made on first use (a `HashMap` cannot be built
/// in a `static`).
struct Shard {
    table: MutexGuard<'static, Option<Table>>,
    index: usize,
}

impl Shard {
    fn table(&mut self) -> &mut Table {
        self.table.get_or_insert_with(Table::default)
    }

    fn epoch(&self) -> u64 {
        EPOCHS[self.index].load(Ordering::Relaxed)
    }

    /// An entry was removed or changed: what threads remember of the shard
    /// is stale.
    fn changed(&self) {
        EPOCHS[self.index].fetch_add(1, Ordering::Release);
    }
}

fn shard(addr: usize) -> Shard {
    let index = shard_index(addr);
    Shard {
        table: LIVE[index].lock().unwrap_or_else(|e| e.into_inner()),
        index,
    }
}

pub fn insert(addr: usize, tag: u64, owned: bool) {
    let entry = Entry {
        tag,
        owned,
        poisoned: false,
        generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
    };
    let mut shard = shard(addr);
    shard.table().insert(addr, entry);
    let epoch = shard.epoch();
    drop(shard);
    remember(addr, epoch, entry);
}

pub fn lookup(addr: usize) -> Option<Entry> {
    let epoch = EPOCHS[shard_index(addr)].load(Ordering::Acquire);
    if let Ok(Some(entry)) = RECENT.try_with(|r| r.borrow().find(addr, epoch)) {
        return Some(entry);
    }
    let mut shard = shard(addr);
    let found = shard.table().get(&addr).copied();
    let epoch = shard.epoch();
    drop(shard);
    if let Some(entry) = found {
        remember(addr, epoch, entry);
    }
    found
}

/// Remove the entry if it is an owned handle of type `tag`; false (and no
/// change) otherwise.
pub fn remove_owned(addr: usize, tag: u64) -> bool {
    let mut shard = shard(addr);
    let live = shard.table();
    match live.get(&addr) {
        Some(e) if e.tag == tag && e.owned => {
            live.remove(&addr);
            shard.changed();
            true
        }
        _ => false,
    }
}

/// Remove a view's entry (its owner is being freed).
pub fn remove_view(addr: usize) {
    let mut shard = shard(addr);
    shard.table().remove(&addr);
    shard.changed();
}

pub fn poison(addr: usize) {
    let mut shard = shard(addr);
    if let Some(e) = shard.table().get_mut(&addr) {
        e.poisoned = true;
        shard.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Addresses no allocation of the tests can have (odd multiples of 16
    // far above the heap would do too; these are never dereferenced).
    const A: usize = 0x7777_0000_0010;

    #[test]
    fn a_remembered_handle_removed_by_another_thread_is_gone() {
        insert(A, 1, true);
        assert_eq!(lookup(A).map(|e| e.tag), Some(1)); // remembered here
        std::thread::spawn(|| assert!(remove_owned(A, 1)))
            .join()
            .unwrap();
        assert_eq!(lookup(A), None);
    }

    #[test]
    fn a_remembered_handle_poisoned_elsewhere_reads_poisoned() {
        let addr = A + 0x100;
        insert(addr, 2, true);
        assert!(!lookup(addr).unwrap().poisoned);
        std::thread::spawn(move || poison(addr)).join().unwrap();
        assert!(lookup(addr).unwrap().poisoned);
        assert!(remove_owned(addr, 2));
    }

    #[test]
    fn a_reused_address_has_a_new_generation() {
        let addr = A + 0x200;
        insert(addr, 3, true);
        let first = lookup(addr).unwrap().generation;
        assert!(remove_owned(addr, 3));
        assert!(!remove_owned(addr, 3), "a double free is refused");
        insert(addr, 3, true);
        assert_ne!(lookup(addr).unwrap().generation, first);
        assert!(remove_owned(addr, 3));
    }
}
