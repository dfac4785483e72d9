//! An owned stack for a child that shares (or starts on) memory of its own: an anonymous
//! mapping with a `PROT_NONE` guard page below it, unmapped on drop.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::io;

thread_local! {
    /// One stack kept by [`Stack::recycle`] for the next [`Stack::reuse_or_new`] on this
    /// thread: a task created and joined in a loop then costs no mmap, mprotect and munmap
    /// (with CLONE_VM, munmap also flushes the TLB of every CPU the task ran on) and no page
    /// faults on a fresh stack.
    static SPARE: Cell<Option<Stack>> = const { Cell::new(None) };
}

/// A child stack. The owner must keep it alive until the task that runs on it can no longer
/// run (it has exec'd, exited, or been joined).
#[derive(Debug)]
pub struct Stack {
    map: *mut std::ffi::c_void,
    map_len: usize,
    guard: usize,
}

// SAFETY: the mapping is plain memory owned by this value; moving the owner between threads
// moves nothing the mapping depends on.
unsafe impl Send for Stack {}

fn page_size() -> usize {
    rustix::param::page_size()
}

impl Stack {
    /// Default size for a program child's pre-exec code and for tasks: 256 KiB.
    pub const DEFAULT_SIZE: usize = 256 * 1024;

    /// Maps `size` usable bytes (rounded up to pages) plus one guard page.
    pub fn new(size: usize) -> io::Result<Stack> {
        let page = page_size();
        let usable = size.max(page).div_ceil(page) * page;
        let map_len = usable + page;
        use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let map = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                map_len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::STACK | MapFlags::NORESERVE,
            )
        }?;
        // SAFETY: the first page lies inside the mapping just created.
        let guarded = unsafe { rustix::mm::mprotect(map, page, MprotectFlags::empty()) };
        if let Err(err) = guarded {
            // SAFETY: unmapping the region we own.
            let _ = unsafe { rustix::mm::munmap(map, map_len) };
            return Err(err.into());
        }
        Ok(Stack {
            map,
            map_len,
            guard: page,
        })
    }

    /// A stack of at least `size` usable bytes: the one this thread last recycled when it has
    /// the same size, else a new mapping.
    pub fn reuse_or_new(size: usize) -> io::Result<Stack> {
        let page = page_size();
        let usable = size.max(page).div_ceil(page) * page;
        match SPARE.try_with(Cell::take) {
            Ok(Some(stack)) if stack.map_len - stack.guard == usable => Ok(stack),
            _ => Stack::new(size),
        }
    }

    /// Keeps this stack for the next [`Stack::reuse_or_new`] on this thread (one is kept;
    /// it is unmapped when the thread ends). Only for a stack no task can run on any more.
    pub fn recycle(self) {
        let _ = SPARE.try_with(|spare| spare.set(Some(self)));
    }

    /// Lowest usable address (above the guard page).
    pub fn base(&self) -> u64 {
        self.map as u64 + self.guard as u64
    }

    /// Usable size in bytes.
    pub fn size(&self) -> u64 {
        (self.map_len - self.guard) as u64
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and, by the owner's contract, no task runs on it.
        let _ = unsafe { rustix::mm::munmap(self.map, self.map_len) };
    }
}
