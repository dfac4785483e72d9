//! The child's report channel: the records it writes before exec (a failed step, notes), read
//! until EOF, and the error a failure record stands for.
use crate::error::Error;
use crate::plan::Step;
use cleave_child::{Notes, Report, Stage};
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;

/// Reads the child's records until EOF (it exec'd), a failure, or the child waiting at its
/// start barrier: the failure, if any, and the notes bits of every record.
pub(super) fn read_report(rx: &OwnedFd) -> (Option<Report>, u32) {
    let mut buf = [0u8; Report::SIZE];
    let mut notes = 0;
    loop {
        match rustix::io::read(rx, &mut buf) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(Report::SIZE) => {}
            _ => return (None, notes),
        }
        let r = Report::from_bytes(&buf);
        notes |= r.notes;
        if r.stage != 0 || r.notes & Notes::WAITING_FOR_START != 0 {
            return (Some(r).filter(|r| r.stage != 0), notes);
        }
    }
}

/// The error a failure record stands for: the exec, or the setup step (with its origin) that
/// failed.
pub(super) fn report_error(r: Report, program: &OsStr, steps: &[Step]) -> Error {
    let source = io::Error::from_raw_os_error(r.errno);
    match Stage::from_u32(r.stage) {
        Some(Stage::Exec) => Error::Exec {
            program: program.to_string_lossy().into_owned(),
            source,
        },
        stage => {
            let failed = match stage {
                Some(Stage::Op) => steps.get(r.index as usize),
                _ => None,
            };
            let origin = failed.and_then(|s| s.origin.clone());
            let step = match stage {
                Some(Stage::Op) => match failed {
                    Some(step) => step.what.to_string(),
                    None => format!("step {}", r.index),
                },
                Some(Stage::Stdio) => format!("install fd {}", r.index),
                Some(Stage::Fds) => "close inherited fds".into(),
                Some(Stage::Signals) => "restore the signal mask".into(),
                Some(Stage::Sync) => "wait for the parent".into(),
                _ => format!("stage {}", r.stage),
            };
            Error::ChildSetup {
                step,
                origin,
                source,
            }
        }
    }
}
