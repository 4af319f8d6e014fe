//! `Buffer::map_populated` fills the page tables up front: touching every
//! page afterwards takes (almost) no page faults, where a lazy `map` takes
//! one per page. Faults are this thread's `minflt` (`/proc/thread-self/stat`).

use accord_client::{Accord, Constraints, Populate, Usage, MOD_LINEAR};
use accord_tests::{TestServer, XRGB8888};

const PAGE: usize = 4096;

/// Minor faults of the calling thread so far.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("read stat");
    // Fields after the parenthesised command name; minflt is field 10.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    rest.split(' ')
        .nth(7)
        .and_then(|f| f.parse().ok())
        .expect("minflt")
}

/// Write one byte per page; returns the pages touched.
fn touch(bytes: &mut [u8]) -> usize {
    let mut pages = 0;
    for off in (0..bytes.len()).step_by(PAGE) {
        // SAFETY: in bounds; volatile so the write is not elided.
        unsafe { std::ptr::write_volatile(bytes.as_mut_ptr().add(off), 1) };
        pages += 1;
    }
    pages
}

#[test]
fn populated_mappings_do_not_fault_page_by_page() {
    let server = TestServer::start();
    let accord = Accord::new(&server.connect()).expect("bind the accord global");
    let collection = accord.create_collection().bind();
    collection.commit(
        &Constraints::new()
            .usage(Usage::CpuWrite)
            .format(XRGB8888, MOD_LINEAR)
            .min_size(1024, 512)
            .buffers(3),
    );
    let a = collection.wait_allocated().expect("allocation");

    // Lazy: one fault per page written (fresh memfd pages).
    let mut lazy = a.buffers[0].map().expect("map");
    let f0 = minor_faults();
    let pages = touch(&mut lazy);
    let lazy_faults = minor_faults() - f0;
    assert!(pages >= 512, "{pages} pages");
    assert!(
        lazy_faults as usize >= pages,
        "lazy map: {lazy_faults} faults for {pages} pages"
    );

    // Populated for writing: the writes fault no more.
    let mut written = a.buffers[1]
        .map_populated(Populate::Write)
        .expect("map populated");
    let f0 = minor_faults();
    touch(&mut written);
    let after_populate = minor_faults() - f0;
    assert!(
        after_populate <= 2,
        "{after_populate} faults writing {pages} populated pages"
    );

    // A second mapping of written pages, populated for reading.
    let read = a.buffers[1].map().expect("map");
    read.populate(Populate::Read).expect("populate read");
    let f0 = minor_faults();
    let sum: u64 = (0..read.len())
        .step_by(PAGE)
        .map(|off| u64::from(read[off]))
        .sum();
    let read_faults = minor_faults() - f0;
    assert_eq!(sum, pages as u64, "every page reads back the byte written");
    assert!(
        read_faults <= 2,
        "{read_faults} faults reading {pages} pages"
    );
}
