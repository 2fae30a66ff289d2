//! Message handles from a type-stable slab: a received message is the most
//! frequent handle by far (one per message), and a hash map insert and
//! removal per message cost more than the rest of the handle's checks.
//!
//! Slots live in chunks that are never given back, so the memory behind a
//! message handle always holds a slot: checking a pointer reads the slot's
//! state word (never the message itself) after finding the pointer at a
//! slot's place in a chunk, which only pointer arithmetic decides. A
//! pointer anywhere else is not a message, and goes to the registry. The
//! state word carries the slot's generation (moved on every allocation), a
//! live bit and a poisoned bit, as the registry's entries do. Freed slots
//! wait in a per-thread cache, then a shared list, for the next message.

use std::cell::{RefCell, UnsafeCell};
use std::mem::{offset_of, MaybeUninit};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::ffi::registry::Entry;

const LIVE: u64 = 1;
const POISONED: u64 = 2;
/// The generation is the state word's upper bits.
const GENERATION_STEP: u64 = 4;

/// One slot: its state, then the value a handle points to.
#[repr(C)]
pub struct Slot<T> {
    state: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Chunk `k` holds `FIRST << k` slots; 24 chunks hold billions.
const FIRST: usize = 256;
const CHUNKS: usize = 24;
/// Free slots a thread keeps for itself before sharing half of them.
const LOCAL_MAX: usize = 128;

pub struct Slab<T> {
    chunks: [AtomicPtr<Slot<T>>; CHUNKS],
    /// Free slots shared by all threads, and the lock under which chunks
    /// are added.
    free: Mutex<Vec<usize>>,
    tag: u64,
}

// SAFETY: slots are reached through their atomic state word; a value is
// only touched by the thread that allocates it, then by the handle's users
// under the C API's rules (a handle is used by one thread at a time), as
// for the boxed handles the registry records.
unsafe impl<T> Sync for Slab<T> {}

/// A thread's free slots, per slab (keyed by the slab's shared list):
/// given back to the shared lists when the thread ends.
struct Local {
    lists: Vec<(&'static Mutex<Vec<usize>>, Vec<usize>)>,
}

impl Drop for Local {
    fn drop(&mut self) {
        for (shared, mine) in self.lists.drain(..) {
            shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(mine);
        }
    }
}

thread_local! {
    /// This thread's free slots: a thread that receives and frees messages
    /// takes no lock.
    static LOCAL: RefCell<Local> = const { RefCell::new(Local { lists: Vec::new() }) };
}

/// Run `f` on this thread's free slots of the slab whose shared list is
/// `shared`; `None` at thread exit.
fn local<R>(shared: &'static Mutex<Vec<usize>>, f: impl FnOnce(&mut Vec<usize>) -> R) -> Option<R> {
    LOCAL
        .try_with(|l| {
            let lists = &mut l.borrow_mut().lists;
            let at = match lists.iter().position(|(s, _)| std::ptr::eq(*s, shared)) {
                Some(at) => at,
                None => {
                    lists.push((shared, Vec::new()));
                    lists.len() - 1
                }
            };
            f(&mut lists[at].1)
        })
        .ok()
}

impl<T> Slab<T> {
    pub const fn new(tag: u64) -> Slab<T> {
        Slab {
            chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; CHUNKS],
            free: Mutex::new(Vec::new()),
            tag,
        }
    }

    /// The slot a value pointer belongs to, if it is exactly a slot's value
    /// in one of the chunks.
    fn slot_of(&self, addr: usize) -> Option<&Slot<T>> {
        let size = std::mem::size_of::<Slot<T>>();
        let offset = offset_of!(Slot<T>, value);
        for (k, chunk) in self.chunks.iter().enumerate() {
            let base = chunk.load(Ordering::Acquire);
            if base.is_null() {
                return None;
            }
            let start = base as usize;
            let end = start + size * (FIRST << k);
            if addr >= start + offset && addr < end {
                let at = addr - start - offset;
                if at % size != 0 {
                    return None;
                }
                // SAFETY: within chunk `k`, which holds initialised slots
                // and is never freed.
                return Some(unsafe { &*(start as *const Slot<T>).add(at / size) });
            }
        }
        None
    }

    /// The registry's view of the handle at `addr`, if it is a slot of
    /// this slab (live or not).
    pub fn lookup(&self, addr: usize) -> Option<Option<Entry>> {
        let slot = self.slot_of(addr)?;
        let state = slot.state.load(Ordering::Acquire);
        Some((state & LIVE != 0).then_some(Entry {
            tag: self.tag,
            owned: true,
            poisoned: state & POISONED != 0,
            generation: state / GENERATION_STEP,
        }))
    }

    /// Put `value` in a free slot; its address is the handle.
    pub fn insert(&'static self, value: T) -> *mut T {
        let addr = local(&self.free, Vec::pop)
            .flatten()
            .or_else(|| self.free.lock().unwrap_or_else(|e| e.into_inner()).pop())
            .unwrap_or_else(|| self.grow());
        let slot = self.slot_of(addr).expect("a slot of this slab");
        // SAFETY: the slot is free: nobody else holds its value.
        unsafe { (*slot.value.get()).write(value) };
        let state = slot.state.load(Ordering::Relaxed);
        let next = (state | (GENERATION_STEP - 1)) + 1; // the next generation, flags clear
        slot.state.store(next | LIVE, Ordering::Release);
        addr as *mut T
    }

    /// A new chunk: its slots join the free list, one comes back.
    fn grow(&self) -> usize {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(addr) = free.pop() {
            return addr; // another thread grew it meanwhile
        }
        let k = self
            .chunks
            .iter()
            .position(|c| c.load(Ordering::Acquire).is_null())
            .expect("the slab's chunks are not all used");
        let slots: Box<[Slot<T>]> = (0..FIRST << k)
            .map(|_| Slot {
                state: AtomicU64::new(0),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        let base = Box::leak(slots).as_mut_ptr();
        self.chunks[k].store(base, Ordering::Release);
        let offset = offset_of!(Slot<T>, value);
        let size = std::mem::size_of::<Slot<T>>();
        free.extend(
            (1..FIRST << k)
                .rev()
                .map(|i| base as usize + i * size + offset),
        );
        base as usize + offset
    }

    /// Free the live handle at `addr` (dropping its value); false, and no
    /// change, when it is not one.
    ///
    /// # Safety
    /// No other thread may use the handle meanwhile.
    pub unsafe fn remove(&'static self, addr: usize) -> bool {
        let Some(slot) = self.slot_of(addr) else {
            return false;
        };
        let state = slot.state.load(Ordering::Acquire);
        if state & LIVE == 0 {
            return false;
        }
        slot.state
            .store(state & !(LIVE | POISONED), Ordering::Release);
        // SAFETY: the slot was live (its value initialised) and is ours now.
        unsafe { (*slot.value.get()).assume_init_drop() };
        let shared = local(&self.free, |mine| {
            mine.push(addr);
            (mine.len() > LOCAL_MAX).then(|| mine.split_off(LOCAL_MAX / 2))
        });
        match shared {
            Some(None) => {}
            Some(Some(extra)) => self
                .free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(extra),
            // At thread exit: straight to the shared list.
            None => self
                .free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(addr),
        }
        true
    }

    /// Mark the live handle at `addr` poisoned; false when it is not one.
    pub fn poison(&self, addr: usize) -> bool {
        match self.slot_of(addr) {
            Some(slot) => slot.state.fetch_or(POISONED, Ordering::AcqRel) & LIVE != 0,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Counted(#[allow(dead_code)] u64);
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn handles_are_checked_freed_once_and_reused_with_a_new_generation() {
        static SLAB: Slab<Counted> = Slab::new(42);
        let a = SLAB.insert(Counted(1)) as usize;
        let entry = SLAB.lookup(a).unwrap().unwrap();
        assert_eq!((entry.tag, entry.owned, entry.poisoned), (42, true, false));
        // Not at a slot's place: not this slab's, or not a slot.
        assert!(SLAB.lookup(a + 1).is_none_or(|e| e.is_none()));
        assert!(SLAB.lookup(0x10).is_none());
        // SAFETY: nobody else uses the handles of this test.
        unsafe {
            assert!(SLAB.remove(a));
            assert!(!SLAB.remove(a), "a double free is refused");
        }
        assert_eq!(DROPS.load(Ordering::Relaxed), 1);
        assert_eq!(SLAB.lookup(a), Some(None));
        // The slot comes back (this thread's cache) with another generation.
        let b = SLAB.insert(Counted(2)) as usize;
        assert_eq!(a, b);
        assert_ne!(
            SLAB.lookup(b).unwrap().unwrap().generation,
            entry.generation
        );
        assert!(SLAB.poison(b));
        assert!(SLAB.lookup(b).unwrap().unwrap().poisoned);
        // SAFETY: as above.
        unsafe { assert!(SLAB.remove(b)) };
        assert!(!SLAB.poison(b));
    }

    #[test]
    fn the_slab_grows_by_chunks_and_threads_share_freed_slots() {
        static SLAB: Slab<u64> = Slab::new(7);
        let many: Vec<usize> = (0..1000).map(|i| SLAB.insert(i) as usize).collect();
        let mut sorted = many.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
        assert!(many.iter().all(|&a| SLAB.lookup(a).unwrap().is_some()));
        let moved = many.clone();
        std::thread::spawn(move || {
            for a in moved {
                // SAFETY: the other thread no longer uses them.
                assert!(unsafe { SLAB.remove(a) });
            }
        })
        .join()
        .unwrap();
        assert!(many.iter().all(|&a| SLAB.lookup(a) == Some(None)));
        // What that thread freed is used again.
        let again = SLAB.insert(5) as usize;
        assert!(many.contains(&again));
    }
}
