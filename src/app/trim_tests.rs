use super::*;
use std::path::Path;

const EXE: &str = "/usr/bin/meterd";

fn mapping(range: &str, perms: &str, path: &str, anonymous_kb: &str) -> String {
    format!(
        "{range} {perms} 00000000 fd:01 1234 {path}\nSize: 64 kB\nRss: 12 kB\nAnonymous: {anonymous_kb}\nVmFlags: rd mr mw me\n"
    )
}

#[test]
fn picks_clean_read_only_mappings_of_the_binary_and_libraries_only() {
    let smaps = [
        mapping("1000-3000", "r--p", EXE, "0 kB"),
        mapping("3000-9000", "r-xp", EXE, "0 kB"),
        // RELRO: read-only now, but relocated (written) first: anonymous copies.
        mapping("9000-a000", "r--p", EXE, "8 kB"),
        mapping("a000-b000", "rw-p", EXE, "4 kB"),
        mapping("b000-c000", "rw-p", "", "4 kB").replace(" \n", "\n"),
        mapping("c000-d000", "rw-p", "[heap]", "4 kB"),
        mapping(
            "d000-e000",
            "r-xp",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "0 kB",
        ),
        mapping(
            "e000-f000",
            "r--p",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "4 kB",
        ),
        mapping("f000-10000", "r--p", "/var/lib/meterd/budgets.redb", "0 kB"),
        mapping("10000-11000", "r--s", EXE, "0 kB"),
        mapping("11000-12000", "r-xp", "[vdso]", "0 kB"),
        mapping("12000-13000", "r-xp", "/opt/lib/libfoo.so", "0 kB"),
    ]
    .concat();
    assert_eq!(
        clean_file_ranges(&smaps, Path::new(EXE)),
        vec![
            (0x1000, 0x2000),
            (0x3000, 0x6000),
            (0xd000, 0x1000),
            (0x12000, 0x1000)
        ]
    );
}

#[test]
fn a_replaced_binary_or_a_path_with_spaces_is_left_alone() {
    let smaps = [
        mapping("1000-3000", "r-xp", "/usr/bin/meterd (deleted)", "0 kB"),
        mapping("3000-4000", "r-xp", "/opt/my app/libx.so", "0 kB"),
    ]
    .concat();
    assert!(clean_file_ranges(&smaps, Path::new(EXE)).is_empty());
    let deleted = Path::new("/usr/bin/meterd (deleted)");
    assert!(clean_file_ranges(&smaps, deleted).is_empty());
}

#[test]
fn an_unreadable_anonymous_count_keeps_the_mapping() {
    let smaps = [
        mapping("1000-3000", "r-xp", EXE, "lots"),
        mapping("3000-4000", "r-xp", EXE, ""),
    ]
    .concat();
    assert!(clean_file_ranges(&smaps, Path::new(EXE)).is_empty());
}

#[test]
fn a_mapping_without_an_anonymous_count_is_kept() {
    let smaps = "1000-3000 r-xp 00000000 fd:01 1234 /usr/bin/meterd\nRss: 8 kB\n\
                 3000-4000 r-xp 00000000 fd:01 1234 /usr/bin/meterd\nAnonymous: 0 kB\n";
    assert_eq!(
        clean_file_ranges(smaps, Path::new(EXE)),
        vec![(0x3000, 0x1000)]
    );
}

#[test]
fn garbage_yields_nothing_and_never_panics() {
    for text in [
        "",
        "\n\n",
        "zzzz-1000 r-xp 0 0 0 /usr/bin/meterd\nAnonymous: 0 kB\n",
        "3000-1000 r-xp 0 0 0 /usr/bin/meterd\nAnonymous: 0 kB\n",
        "1000-3000 r-xp\nAnonymous: 0 kB\n",
        "1000-3000\n",
        "Anonymous: 0 kB\n",
        "ffffffffffffffffffff-1 r-xp 0 0 0 /usr/bin/meterd\nAnonymous: 0 kB\n",
    ] {
        assert!(
            clean_file_ranges(text, Path::new(EXE)).is_empty(),
            "{text:?}"
        );
    }
}

trait Speak {
    fn word(&self) -> String;
}
struct Dog(u32);
impl Speak for Dog {
    fn word(&self) -> String {
        format!("woof {}", self.0)
    }
}
static GREETING: &str = "still here";

/// The real thing on this test process: its own binary's and libc's pages are released, and code,
/// constants, vtables (RELRO) and statics still read back right afterwards.
#[cfg(target_os = "linux")]
#[test]
fn released_pages_come_back_unchanged() {
    let exe = std::fs::read_link("/proc/self/exe").expect("exe");
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let ranges = clean_file_ranges(&smaps, &exe);
    let code = released_pages_come_back_unchanged as fn() as usize;
    assert!(
        ranges.iter().any(|(s, l)| (*s..s + l).contains(&code)),
        "this function's code is in a released range: {ranges:x?}"
    );
    let before: Vec<Box<dyn Speak>> = (0..50)
        .map(|i| Box::new(Dog(i)) as Box<dyn Speak>)
        .collect();
    let words: Vec<String> = before.iter().map(|s| s.word()).collect();
    after_load();
    let again: Vec<String> = before.iter().map(|s| s.word()).collect();
    assert_eq!(words, again);
    assert_eq!(GREETING, "still here");
    let table = crate::derive::pricing::Dim::ALL.map(crate::derive::pricing::Dim::name);
    assert_eq!(table[0], "input");
    // A second pass finds the same ranges (nothing turned anonymous) and is harmless.
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    assert!(clean_file_ranges(&smaps, &exe)
        .iter()
        .any(|(s, l)| (*s..s + l).contains(&code)));
    after_load();
    assert_eq!(before[7].word(), "woof 7");
}
