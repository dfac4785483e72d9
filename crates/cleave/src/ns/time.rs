//! The clock offsets of a new time namespace (time_namespaces(7)).
//!
//! When /proc/PID/timens_offsets is written, the kernel (`proc_timens_set_offset` in
//! kernel/time/namespace.c) adds each offset to the clock's current value *outside* any
//! time namespace and answers ERANGE unless the sum lies within 0 and `KTIME_SEC_MAX / 2`
//! seconds (4611686018): an offset may neither make the clock negative nor bring it
//! within reach of ktime's overflow. Measured on 6.18 with `unshare -T`: with CLOCK_MONOTONIC
//! at 314.98 s, -314 is taken and -315 refused; 4611686018 - 314 - 2 taken, + 2 refused.
//! Clocks only move forward, so an offset found valid here stays valid at the write (the
//! upper end could move out of reach only within seconds of 146 years of uptime).
use crate::error::RangeError;

/// `KTIME_SEC_MAX`: the most seconds a ktime_t holds (`KTIME_MAX / NSEC_PER_SEC`).
pub const KTIME_SEC_MAX: i64 = i64::MAX / 1_000_000_000;

/// The highest value, in seconds, a clock may reach through an offset (`KTIME_SEC_MAX / 2`).
pub const CLOCK_SEC_MAX: i64 = KTIME_SEC_MAX / 2;

/// A clock a time namespace offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// CLOCK_MONOTONIC.
    Monotonic,
    /// CLOCK_BOOTTIME.
    Boottime,
}

impl Clock {
    /// The kernel's name.
    pub fn name(self) -> &'static str {
        match self {
            Clock::Monotonic => "CLOCK_MONOTONIC",
            Clock::Boottime => "CLOCK_BOOTTIME",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Clock::Monotonic => "CLOCK_MONOTONIC offset",
            Clock::Boottime => "CLOCK_BOOTTIME offset",
        }
    }

    fn id(self) -> rustix::time::ClockId {
        match self {
            Clock::Monotonic => rustix::time::ClockId::Monotonic,
            Clock::Boottime => rustix::time::ClockId::Boottime,
        }
    }

    /// The word for this clock in /proc/PID/timens_offsets.
    fn proc_word(self) -> &'static str {
        match self {
            Clock::Monotonic => "monotonic",
            Clock::Boottime => "boottime",
        }
    }
}

/// The offsets, in seconds, the kernel takes for `clock` while it reads `now` whole seconds
/// outside any time namespace.
pub fn offset_range(now: i64) -> std::ops::RangeInclusive<i64> {
    now.saturating_neg()..=CLOCK_SEC_MAX.saturating_sub(now)
}

/// Checks `offset` seconds for `clock` reading `now` whole seconds (pure; see
/// [`check_offsets`] for the running system).
pub fn check_offset(clock: Clock, offset: i64, now: i64) -> Result<(), RangeError> {
    let range = offset_range(now);
    if range.contains(&offset) {
        return Ok(());
    }
    let reached = now.saturating_add(offset);
    Err(RangeError::new(
        clock.what(),
        offset,
        format!(
            "{} would read {reached} s, outside 0 to {CLOCK_SEC_MAX} s (KTIME_SEC_MAX/2); it reads {now} s now, so give an offset from {} to {}",
            clock.name(),
            range.start(),
            range.end()
        ),
    ))
}

/// Checks the offsets of a new time namespace against the clocks as they read now.
pub fn check_offsets(monotonic: Option<i64>, boottime: Option<i64>) -> Result<(), RangeError> {
    for (clock, offset) in [(Clock::Monotonic, monotonic), (Clock::Boottime, boottime)] {
        if let Some(offset) = offset {
            check_offset(clock, offset, host_seconds(clock))?;
        }
    }
    Ok(())
}

/// Whole seconds of `clock` outside any time namespace: the caller's reading less the
/// offset of the time namespace its children are in (the one it is in, unless it unshared
/// one without a fork since).
pub fn host_seconds(clock: Clock) -> i64 {
    let now = rustix::time::clock_gettime(clock.id()).tv_sec;
    let own = std::fs::read_to_string("/proc/self/timens_offsets")
        .ok()
        .and_then(|text| own_offset(&text, clock))
        .unwrap_or(0);
    now.saturating_sub(own)
}

/// The seconds of `clock` in the text of a timens_offsets file.
fn own_offset(text: &str, clock: Clock) -> Option<i64> {
    text.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        (f.next()? == clock.proc_word()).then_some(())?;
        f.next()?.parse().ok()
    })
}

/// The child's steps that make a time namespace with these offsets: unshare(CLONE_NEWTIME),
/// which only the child's children (or its exec) enter, then the offsets.
pub(crate) fn steps(monotonic: Option<i64>, boottime: Option<i64>) -> Vec<crate::plan::Step> {
    use crate::error::Origin;
    use crate::flags::CloneFlags;
    use crate::plan::{text, Step};
    use cleave_child::Op;
    let data = format!(
        "monotonic {} 0\nboottime {} 0\n",
        monotonic.unwrap_or(0),
        boottime.unwrap_or(0)
    );
    vec![
        Step::new(
            Op::Unshare {
                flags: CloneFlags::NEWTIME.bits(),
            },
            "unshare(CLONE_NEWTIME)",
        )
        .at(Origin::TimeOffsets),
        Step::new(
            Op::WriteFile {
                path: text("/proc/self/timens_offsets"),
                data: data.clone().into_bytes(),
            },
            format!("write the time offsets {:?}", data.trim_end()),
        )
        .at(Origin::TimeOffsets),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_keep_the_clock_in_range() {
        assert_eq!(CLOCK_SEC_MAX, 4_611_686_018);
        assert!(check_offset(Clock::Monotonic, -314, 314).is_ok());
        assert!(check_offset(Clock::Monotonic, -315, 314).is_err());
        assert!(check_offset(Clock::Boottime, CLOCK_SEC_MAX - 314, 314).is_ok());
        assert!(check_offset(Clock::Boottime, CLOCK_SEC_MAX - 313, 314).is_err());
        assert!(check_offset(Clock::Monotonic, i64::MIN, 314).is_err());
        assert!(check_offset(Clock::Monotonic, i64::MAX, 314).is_err());
        let e = check_offset(Clock::Monotonic, -9_999_999_999_999, 314).unwrap_err();
        assert_eq!(e.value, "-9999999999999");
        assert!(e.why.contains("from -314 to 4611685704"), "{e}");
        assert!(check_offsets(Some(-9_999_999_999_999), None).is_err());
        assert!(check_offsets(None, Some(9_999_999_999_999)).is_err());
        assert!(check_offsets(Some(0), Some(86_400)).is_ok());
    }

    #[test]
    fn own_offsets_are_read() {
        let text = "monotonic      -5         0\nboottime  86400 0\n";
        assert_eq!(own_offset(text, Clock::Monotonic), Some(-5));
        assert_eq!(own_offset(text, Clock::Boottime), Some(86400));
        assert_eq!(own_offset("", Clock::Boottime), None);
    }
}
