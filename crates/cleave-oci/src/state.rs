//! runc's state JSON (`cleave state ID` prints it; hooks read it on stdin).
use crate::error::{OciError, Problem};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a container is in its life, as runc names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` finished; the program has not started.
    Created,
    /// The program runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The program has exited.
    Stopped,
}

/// A container's state, field for field as `runc state` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The runtime-spec version of the config.
    pub oci_version: String,
    /// The container's id.
    pub id: String,
    /// The container process's PID in the runtime's PID namespace (0 once stopped).
    pub pid: i32,
    /// Where it is in its life.
    pub status: Status,
    /// The bundle directory, absolute.
    pub bundle: PathBuf,
    /// The root filesystem, absolute.
    pub rootfs: PathBuf,
    /// When it was created, RFC 3339 in UTC with nanoseconds.
    pub created: String,
    /// The user who created it (runc leaves this empty).
    pub owner: String,
    /// The config's annotations; absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl State {
    /// A state for a container just created from `bundle` (which must be absolute).
    pub fn created(
        id: &str,
        pid: i32,
        bundle: &Path,
        rootfs: &Path,
        at: SystemTime,
        annotations: BTreeMap<String, String>,
        oci_version: &str,
    ) -> Result<State, OciError> {
        if !bundle.is_absolute() {
            return Err(OciError::new("bundle", Problem::NotAbsolute));
        }
        if !rootfs.is_absolute() {
            return Err(OciError::new("rootfs", Problem::NotAbsolute));
        }
        Ok(State {
            oci_version: oci_version.into(),
            id: id.into(),
            pid,
            status: Status::Created,
            bundle: bundle.into(),
            rootfs: rootfs.into(),
            created: rfc3339(at),
            owner: String::new(),
            annotations,
        })
    }
}

/// `t` as RFC 3339 in UTC with nanoseconds (`2024-03-01T12:00:00.000000001Z`); a time
/// before 1970 shows as 1970-01-01T00:00:00Z.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        format!("{y:04}-{m:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}.{nanos:09}Z")
    }
}

/// The proleptic Gregorian date of day `z` since 1970-01-01, counted in 400-year eras of
/// 146097 days that start on March 1st (so that the leap day ends a year).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
