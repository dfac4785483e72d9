//! The properties every parser of user text keeps, one function per parser, each taking
//! arbitrary bytes (read as UTF-8, invalid sequences replaced): it never panics, every error
//! it gives is one line, and a value it accepts, written back out, reads back the same.
//!
//! The fuzz targets (fuzz_targets/) call these under libFuzzer, and the workspace test
//! crates/cleave/tests/parser_seeds.rs runs them over fuzz/seeds/ on stable Rust.
use cleave::caps::{self, Rlimit};
use cleave::cgroup;
use cleave::flags::rules::parse_release;
use cleave::flags::{parse_exit_signal, parse_flags, signal_from_name, signal_name};
use cleave::idmap::IdMap;
use cleave::mount::Propagation;
use cleave::Namespace;
use std::fmt::Display;

/// A property check: arbitrary bytes in, a panic if the parser broke a property.
pub type Check = fn(&[u8]);

/// Every parser, by the name of its fuzz target.
pub const TARGETS: [(&str, Check); 10] = [
    ("flags", flags),
    ("idmap", idmap),
    ("size", size),
    ("cpus", cpus),
    ("rlimit", rlimit),
    ("cap", cap),
    ("signal", signal),
    ("propagation", propagation),
    ("namespaces", namespaces),
    ("kernel", kernel),
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// An error's message is a single line: no line break, whatever the input held.
fn one_line(parser: &str, input: &str, err: &impl Display) {
    let msg = err.to_string();
    assert!(!msg.is_empty(), "{parser}({input:?}): empty error");
    assert!(
        !msg.contains(['\n', '\r']),
        "{parser}({input:?}): error of more than one line: {msg:?}"
    );
}

/// Flag expressions (`--flags`, `cleave explain`): the flags and the exit signal, written as
/// kernel names and a signal name, read back the same.
pub fn flags(data: &[u8]) {
    let t = text(data);
    match parse_flags(&t) {
        Ok(expr) => {
            let mut again = expr.flags.to_kernel_string();
            if let Some(sig) = expr.exit_signal {
                assert!((1..=64).contains(&sig), "flags({t:?}): signal {sig}");
                again = format!("{again}|{}", signal_name(sig));
            }
            assert_eq!(
                parse_flags(&again),
                Ok(expr),
                "flags({t:?}) written {again:?}"
            );
        }
        Err(e) => one_line("parse_flags", &t, &e),
    }
}

/// Id maps (`--map-user`, `--map-group`): `INSIDE:OUTSIDE:COUNT` reads back equal.
pub fn idmap(data: &[u8]) {
    let t = text(data);
    match t.parse::<IdMap>() {
        Ok(m) => {
            assert!(m.count >= 1, "idmap({t:?}): {m:?}");
            assert!(u64::from(m.inside) + u64::from(m.count) <= 1 << 32);
            assert!(u64::from(m.outside) + u64::from(m.count) <= 1 << 32);
            assert_eq!(m.to_string().parse::<IdMap>().ok(), Some(m), "idmap({t:?})");
        }
        Err(e) => one_line("IdMap", &t, &e),
    }
}

/// Sizes (`--memory`): the byte count, in bytes and in its largest exact unit, reads back.
pub fn size(data: &[u8]) {
    let t = text(data);
    match cgroup::parse_size(&t) {
        Ok(n) => {
            assert_eq!(
                cgroup::parse_size(&n.to_string()).ok(),
                Some(n),
                "size({t:?})"
            );
            let (unit, shift) = [("T", 40), ("G", 30), ("M", 20), ("K", 10), ("", 0)]
                .into_iter()
                .find(|&(_, s)| n % (1u64 << s) == 0)
                .expect("shift 0 divides everything");
            let short = format!("{}{unit}", n >> shift);
            assert_eq!(
                cgroup::parse_size(&short).ok(),
                Some(n),
                "size({t:?}) as {short}"
            );
        }
        Err(e) => one_line("parse_size", &t, &e),
    }
}

/// CPU fractions (`--cpus`): finite, at least 0.01, and the shortest decimal reads back
/// bit for bit; its quota is computed without a panic.
pub fn cpus(data: &[u8]) {
    let t = text(data);
    match cgroup::parse_cpus(&t) {
        Ok(c) => {
            assert!(c.is_finite() && c >= 0.01, "cpus({t:?}) = {c}");
            let again = cgroup::parse_cpus(&c.to_string()).ok();
            assert_eq!(again.map(f64::to_bits), Some(c.to_bits()), "cpus({t:?})");
            assert!(cgroup::cpu_quota_us(c) >= 1000);
        }
        Err(e) => one_line("parse_cpus", &t, &e),
    }
}

/// Resource limits (`--rlimit`): `name=soft:hard` reads back equal, soft never above hard.
pub fn rlimit(data: &[u8]) {
    let t = text(data);
    match t.parse::<Rlimit>() {
        Ok(r) => {
            assert!(r.soft <= r.hard, "rlimit({t:?}): {r:?}");
            let v = |n: u64| {
                if n == u64::MAX {
                    "unlimited".to_string()
                } else {
                    n.to_string()
                }
            };
            let again = format!("{}={}:{}", r.name(), v(r.soft), v(r.hard));
            assert_eq!(
                again.parse::<Rlimit>().ok(),
                Some(r),
                "rlimit({t:?}) as {again}"
            );
        }
        Err(e) => one_line("Rlimit", &t, &e),
    }
}

/// Capability names (`--cap-add`, `--cap-drop`): one capability or all of them, and the
/// name [`caps::names`] gives reads back.
pub fn cap(data: &[u8]) {
    let t = text(data);
    match caps::parse_cap(&t) {
        Ok(mask) if mask == caps::ALL => {}
        Ok(mask) => {
            assert_eq!(mask.count_ones(), 1, "parse_cap({t:?}) = {mask:#x}");
            let names = caps::names(mask);
            assert_eq!(names.len(), 1, "parse_cap({t:?}) = {mask:#x}");
            assert_eq!(
                caps::parse_cap(&names[0]).ok(),
                Some(mask),
                "parse_cap({t:?})"
            );
        }
        Err(e) => one_line("parse_cap", &t, &e),
    }
}

/// Signal names (`--exit-signal`, `--kill-child`): 0 for none or a signal from 1 to 64,
/// whose name reads back as the same number.
pub fn signal(data: &[u8]) {
    let t = text(data);
    if let Some(n) = signal_from_name(&t) {
        assert!((1..=64).contains(&n), "signal_from_name({t:?}) = {n}");
    }
    match parse_exit_signal(&t) {
        Ok(0) => assert_eq!(parse_exit_signal("none"), Ok(0)),
        Ok(n) => {
            assert!((1..=64).contains(&n), "parse_exit_signal({t:?}) = {n}");
            let name = signal_name(n);
            assert_eq!(parse_exit_signal(&name), Ok(n), "{t:?} named {name}");
            assert_eq!(signal_from_name(&name), Some(n), "{t:?} named {name}");
        }
        Err(e) => one_line("parse_exit_signal", &t, &e),
    }
}

/// Mount propagation (`--propagation`): the word reads back the same.
pub fn propagation(data: &[u8]) {
    let t = text(data);
    match t.parse::<Propagation>() {
        Ok(p) => {
            let word = match p {
                Propagation::Private => "private",
                Propagation::Slave => "slave",
                Propagation::Shared => "shared",
                Propagation::Unchanged => "unchanged",
            };
            assert_eq!(word.parse::<Propagation>().ok(), Some(p), "{t:?}");
        }
        Err(e) => one_line("Propagation", &t, &e),
    }
}

/// Namespace lists (`--new`, `enter --ns`), split at commas as the command line splits them:
/// the names, joined again, read back the same list.
pub fn namespaces(data: &[u8]) {
    let t = text(data);
    match Namespace::parse_list(t.split(',')) {
        Ok(None) => {}
        Ok(Some(list)) => {
            let again = list.iter().map(|n| n.name()).collect::<Vec<_>>().join(",");
            assert_eq!(
                Namespace::parse_list(again.split(',')),
                Ok(Some(list)),
                "{t:?} written {again:?}"
            );
        }
        Err(e) => one_line("Namespace::parse_list", &t, &e),
    }
}

/// Kernel releases (`cleave explain --kernel 6.8`): MAJOR.MINOR reads back the same.
pub fn kernel(data: &[u8]) {
    let t = text(data);
    if let Some((major, minor)) = parse_release(&t) {
        let again = format!("{major}.{minor}");
        assert_eq!(parse_release(&again), Some((major, minor)), "{t:?}");
    }
}
