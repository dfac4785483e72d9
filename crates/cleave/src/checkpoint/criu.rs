//! The `criu` program: found, its version and `criu check` verified, run with a log.
use super::CheckpointProblem;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The oldest CRIU major version that works on current kernels (3.x fails on the rt vDSO
/// layout of Linux 6.x).
pub const MIN_MAJOR: u32 = 4;

/// A CRIU program that was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Criu {
    path: PathBuf,
}

impl Criu {
    /// `explicit` when given (it must be an executable file), else the first `criu` on
    /// `$PATH`, as podman finds it.
    pub fn find(explicit: Option<&Path>) -> Result<Criu, CheckpointProblem> {
        let executable = |p: &Path| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        if let Some(p) = explicit {
            if executable(p) {
                return Ok(Criu {
                    path: p.to_path_buf(),
                });
            }
            return Err(CheckpointProblem::CriuMissing {
                searched: p.display().to_string(),
            });
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        for dir in std::env::split_paths(&path) {
            let p = dir.join("criu");
            if executable(&p) {
                return Ok(Criu { path: p });
            }
        }
        Err(CheckpointProblem::CriuMissing {
            searched: format!("$PATH ({})", path.to_string_lossy()),
        })
    }

    /// The program.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What `criu --version` says (`4.2.1`).
    pub fn version(&self) -> Result<String, CheckpointProblem> {
        let out = Command::new(&self.path)
            .arg(criu_option("version"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.run_error(e))?;
        Ok(parse_version(&String::from_utf8_lossy(&out.stdout)).unwrap_or_default())
    }

    /// The version is at least [`MIN_MAJOR`] and `criu check` passes; the version. `criu
    /// check` takes tens of milliseconds, a noticeable part of a small dump: with a `stamp`
    /// file, a passed check (and the version) is remembered for this program (its path and
    /// modification time) and this boot, and neither is asked again.
    pub fn verify(&self, stamp: Option<&Path>) -> Result<String, CheckpointProblem> {
        // A stamp of this program and boot holds the version that passed.
        let key = self.stamp_key();
        if let (Some(s), Some(k)) = (stamp, &key) {
            if let Some(v) = std::fs::read_to_string(s).ok().and_then(|t| {
                t.strip_prefix(k.as_str())?
                    .strip_prefix('\n')
                    .map(str::to_string)
            }) {
                return Ok(v);
            }
        }
        let version = self.version()?;
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if major.is_none_or(|m| m < MIN_MAJOR) {
            return Err(CheckpointProblem::CriuTooOld {
                path: self.path.clone(),
                version: if version.is_empty() {
                    "of an unknown version".into()
                } else {
                    version
                },
            });
        }
        let out = Command::new(&self.path)
            .arg("check")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.run_error(e))?;
        if !out.status.success() {
            let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stdout));
            let last = text
                .lines()
                .rfind(|l| l.contains("Error"))
                .or_else(|| text.lines().next_back())
                .unwrap_or("no output")
                .trim()
                .to_string();
            return Err(CheckpointProblem::CriuCheck {
                path: self.path.clone(),
                output: crate::error::one_line(&last),
            });
        }
        if let (Some(s), Some(k)) = (stamp, key) {
            let _ = std::fs::write(s, format!("{k}\n{version}"));
        }
        Ok(version)
    }

    fn stamp_key(&self) -> Option<String> {
        let meta = std::fs::metadata(&self.path).ok()?;
        let mtime = meta.modified().ok()?;
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(format!("{} {mtime:?} {}", self.path.display(), boot.trim()))
    }

    /// Whether `criu check --feature NAME` passes.
    pub fn has_feature(&self, name: &str) -> bool {
        Command::new(&self.path)
            .arg("check")
            .arg(criu_option("feature"))
            .arg(name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs `criu ARGS` (which name `log` as its log file with `-o`); on failure, the
    /// errors of the log.
    pub fn run(
        &self,
        action: &'static str,
        args: &[std::ffi::OsString],
        log: &Path,
        stdio: [Stdio; 3],
    ) -> Result<(), CheckpointProblem> {
        let [i, o, e] = stdio;
        let mut cmd = self.command(args);
        cmd.stdin(i).stdout(o).stderr(e);
        self.finish(action, cmd.status(), log)
    }

    /// `criu ARGS`, to be run by the caller (who may arrange its fds first) and given to
    /// [`Criu::finish`].
    pub fn command(&self, args: &[std::ffi::OsString]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(args);
        cmd
    }

    /// The outcome of a [`Criu::command`]: on failure, the errors of its log.
    pub fn finish(
        &self,
        action: &'static str,
        status: std::io::Result<std::process::ExitStatus>,
        log: &Path,
    ) -> Result<(), CheckpointProblem> {
        let status = status.map_err(|e| self.run_error(e))?;
        if status.success() {
            return Ok(());
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let mut excerpt = log_errors(&text);
        if excerpt.is_empty() {
            excerpt = format!("it exited with {status}");
        }
        Err(CheckpointProblem::CriuFailed {
            action,
            excerpt,
            log: log.to_path_buf(),
        })
    }

    fn run_error(&self, e: std::io::Error) -> CheckpointProblem {
        CheckpointProblem::Run {
            path: self.path.clone(),
            why: e.to_string(),
        }
    }
}

/// An option of criu's own command line (`--NAME`), not of cleave's.
fn criu_option(name: &str) -> String {
    format!("--{name}")
}

/// `Version: 4.2.1` -> `4.2.1`.
fn parse_version(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
}

/// The error lines of a CRIU log, without their timestamps, the harmless RLIMIT_NOFILE one
/// (CRIU without CAP_SYS_RESOURCE) and the generic "FAILED" closers; at most the last three.
pub(super) fn log_errors(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains("Error (") && !l.contains("RLIMIT_NOFILE"))
        .filter(|l| !l.contains("Dumping FAILED") && !l.contains("Restoring FAILED"))
        .map(|l| {
            let l = l.trim_start();
            let l = match l.strip_prefix('(') {
                Some(rest) => rest.split_once(')').map_or(rest, |(_, r)| r).trim_start(),
                None => l,
            };
            // "Error (criu/file.c:12): what" -> "what"
            match l.split_once("): ") {
                Some((_, what)) => what.to_string(),
                None => l.to_string(),
            }
        })
        .collect();
    let start = lines.len().saturating_sub(3);
    crate::error::one_line(&lines[start..].join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line() {
        assert_eq!(parse_version("Version: 4.2.1\n").as_deref(), Some("4.2.1"));
        assert_eq!(
            parse_version("Version: 3.17.1\nGitID: v3.17\n").as_deref(),
            Some("3.17.1")
        );
        assert_eq!(parse_version("nothing"), None);
    }

    #[test]
    fn errors_of_a_log() {
        let log = "(00.01) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n\
                   (00.02) Warn  (x.c:1): something\n\
                   (00.14) Error (criu/files-reg.c:1790): Can't lookup mount=24 for fd=0 path=/dev/null\n\
                   (00.20) Error (criu/cr-dump.c:1975): Dumping FAILED.\n";
        assert_eq!(
            log_errors(log),
            "Can't lookup mount=24 for fd=0 path=/dev/null"
        );
    }
}
