//! Parent side of a program spawn: turns a [`crate::Command`] into a [`cleave_child::Plan`]
//! whose every byte is built before clone. The child only reads it.
use crate::error::{Origin, RequestProblem, Result};
use cleave_child::{Bytes, Op, Plan, Report, Str};
use std::ffi::{c_char, CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Owns everything a [`Plan`] points into; the plan is valid while this lives.
pub(crate) struct PlanData {
    pub plan: Plan,
    _strings: Vec<CString>,
    _blobs: Vec<Vec<u64>>,
    _slots: Vec<i32>,
    _ptr_arrays: Vec<Vec<*const c_char>>,
    _ops: Vec<Op>,
    _keep: Vec<i32>,
    pub report: Box<Report>,
}

// SAFETY: the raw pointers only point into the heap buffers owned alongside them; nothing is
// shared with another thread except through the child, which only reads.
#[allow(unsafe_code)]
unsafe impl Send for PlanData {}

/// An op as the parent holds it: strings (without their NUL) and bytes owned.
pub(crate) type StepOp = Op<Vec<u8>, Vec<u8>>;

/// A step the child runs before exec: one typed [`Op`] with the data it points to, and a
/// description for error messages ("mount tmpfs on /tmp").
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub op: StepOp,
    pub what: What,
    /// The part of the sandbox specification it came from.
    pub origin: Option<Origin>,
}

/// A step's description, made into text only when something reads it (-v, explain, an
/// error): a sandbox that starts formats none of them (issue 13).
#[derive(Clone, Debug)]
pub(crate) struct What {
    /// Pieces and a path joined on first read: `head`, the path as [`Path::display`] shows
    /// it, then `tail`.
    parts: Option<([&'static str; 3], PathBuf, [&'static str; 4])>,
    text: OnceLock<String>,
}

impl What {
    /// `head`'s pieces, `path` as [`Path::display`] shows it, then `tail`'s: the text of
    /// `format!("{}{}{}", head.concat(), path.display(), tail.concat())`, joined when read.
    pub fn path<const H: usize, const T: usize>(
        head: [&'static str; H],
        path: &Path,
        tail: [&'static str; T],
    ) -> What {
        let mut h = [""; 3];
        let mut t = [""; 4];
        h[..H].copy_from_slice(&head);
        t[..T].copy_from_slice(&tail);
        What {
            parts: Some((h, path.to_path_buf(), t)),
            text: OnceLock::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        self.text.get_or_init(|| match &self.parts {
            Some((head, path, tail)) => {
                format!("{}{}{}", head.concat(), path.display(), tail.concat())
            }
            None => String::new(),
        })
    }
}

impl From<String> for What {
    fn from(text: String) -> What {
        What {
            parts: None,
            text: OnceLock::from(text),
        }
    }
}

impl From<&'static str> for What {
    /// Kept as it is: an empty path shows as nothing and takes no allocation.
    fn from(text: &'static str) -> What {
        What::path([text], Path::new(""), [])
    }
}

impl std::fmt::Display for What {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for What {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Step {
    pub fn new(op: StepOp, what: impl Into<What>) -> Step {
        Step {
            op,
            what: what.into(),
            origin: None,
        }
    }

    /// The step with its origin.
    pub fn at(mut self, origin: Origin) -> Step {
        self.origin = Some(origin);
        self
    }
}

/// Owned bytes of a path or name, for an op's string.
pub(crate) fn text(s: impl AsRef<OsStr>) -> Vec<u8> {
    s.as_ref().as_bytes().to_vec()
}

pub(crate) struct PlanInput<'a> {
    pub program: &'a OsStr,
    pub argv: &'a [OsString],
    pub env: Option<&'a [(OsString, OsString)]>,
    pub path_var: Option<OsString>,
    pub steps: &'a [Step],
    pub stdio: [i32; 3],
    pub keep_fds: &'a [i32],
    pub close_other_fds: bool,
    pub fd_table_shared: bool,
    pub reset_signals: bool,
    pub sigmask: u64,
    pub default_signals: u64,
    pub report_fd: i32,
    /// (child's read end, parent's write end) of the sync pipe, or (-1, -1).
    pub sync_fds: (i32, i32),
    /// Fds the work after clone owns, which the child closes first (-1: none).
    pub hook_fds: [i32; 3],
    /// Size of the fd slot table the steps use.
    pub slots: usize,
}

fn cstring(s: &OsStr, what: &str) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        RequestProblem::NulByte {
            what: what.to_string(),
            value: s.to_string_lossy().into_owned(),
        }
        .into()
    })
}

fn ptr_array(strings: &[CString]) -> Vec<*const c_char> {
    let mut v: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    v.push(std::ptr::null());
    v
}

/// The paths `execve` should try for `program`, the way execvp(3) searches PATH.
pub(crate) fn exec_candidates(program: &OsStr, path_var: Option<&OsStr>) -> Vec<OsString> {
    if program.as_bytes().contains(&b'/') {
        return vec![program.to_os_string()];
    }
    let path = path_var
        .map(|p| p.as_bytes().to_vec())
        .unwrap_or_else(|| b"/usr/local/bin:/usr/bin:/bin".to_vec());
    path.split(|&b| b == b':')
        .map(|dir| {
            let mut full = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            full.push(b'/');
            full.extend_from_slice(program.as_bytes());
            OsString::from_vec(full)
        })
        .collect()
}

impl PlanData {
    pub fn build(input: PlanInput<'_>) -> Result<PlanData> {
        let mut strings = Vec::new();
        let mut arrays = Vec::new();

        let candidates: Vec<CString> = exec_candidates(input.program, input.path_var.as_deref())
            .iter()
            .map(|c| cstring(c, "program path"))
            .collect::<Result<_>>()?;
        let candidates_ptrs = ptr_array(&candidates);
        let argv: Vec<CString> = input
            .argv
            .iter()
            .map(|a| cstring(a, "argument"))
            .collect::<Result<_>>()?;
        let argv_ptrs = ptr_array(&argv);
        // Without an environment of its own the program gets a copy of the caller's, taken
        // through std (under its environment lock): reading `environ` directly would race
        // with a set_var in another thread, which may free the strings it points to.
        let captured: Vec<(OsString, OsString)>;
        let vars = match input.env {
            Some(vars) => vars,
            None => {
                captured = std::env::vars_os().collect();
                &captured
            }
        };
        let env: Vec<CString> = vars
            .iter()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                cstring(OsStr::from_bytes(&kv), "environment variable")
            })
            .collect::<Result<_>>()?;
        let env_ptrs = ptr_array(&env);
        let envp_ptr = env_ptrs.as_ptr();
        strings.extend(env);
        arrays.push(env_ptrs);

        let mut ops = Vec::new();
        let mut blobs: Vec<Vec<u64>> = Vec::new();
        for step in input.steps {
            // Every string is checked for NULs first, so the lowering below cannot fail.
            let mut bad = None;
            step.op.lower(
                |st| {
                    if st.contains(&0) {
                        bad = Some(st.clone());
                    }
                },
                |_| (),
            );
            if let Some(st) = bad {
                cstring(OsStr::from_bytes(&st), step.what.as_str())?;
            }
            let op = step.op.lower(
                |st| {
                    let c = CString::new(st.clone()).unwrap_or_default();
                    let p = Str(c.as_ptr().cast());
                    strings.push(c);
                    p
                },
                |bytes| {
                    // 8-byte aligned: a BPF program is read as structures.
                    let mut words = vec![0u64; bytes.len().div_ceil(8)];
                    for (w, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
                        let mut b = [0u8; 8];
                        b[..chunk.len()].copy_from_slice(chunk);
                        *w = u64::from_ne_bytes(b);
                    }
                    let p = Bytes {
                        ptr: words.as_ptr().cast(),
                        len: bytes.len(),
                    };
                    blobs.push(words);
                    p
                },
            );
            ops.push(op);
        }
        let mut slots = vec![-1i32; input.slots];

        let mut report = Box::<Report>::default();
        let keep: Vec<i32> = input.keep_fds.to_vec();
        let plan = Plan {
            ops: ops.as_ptr(),
            n_ops: ops.len(),
            candidates: candidates_ptrs.as_ptr(),
            argv: argv_ptrs.as_ptr(),
            envp: envp_ptr,
            stdio: input.stdio,
            keep_fds: keep.as_ptr(),
            n_keep_fds: keep.len(),
            close_other_fds: input.close_other_fds,
            fd_table_shared: input.fd_table_shared,
            reset_signals: input.reset_signals,
            sigmask: input.sigmask,
            default_signals: input.default_signals,
            sync_fd: input.sync_fds.0,
            sync_peer_fd: input.sync_fds.1,
            hook_fds: input.hook_fds,
            report_fd: input.report_fd,
            report_slot: &mut *report,
            slots: slots.as_mut_ptr(),
            n_slots: slots.len(),
            exit_task_only: false,
        };
        strings.extend(candidates);
        strings.extend(argv);
        arrays.push(candidates_ptrs);
        arrays.push(argv_ptrs);
        Ok(PlanData {
            plan,
            _strings: strings,
            _blobs: blobs,
            _slots: slots,
            _ptr_arrays: arrays,
            _ops: ops,
            _keep: keep,
            report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_candidates() {
        let c = exec_candidates(OsStr::new("true"), Some(OsStr::new("/a::/b")));
        assert_eq!(c, ["/a/true", "./true", "/b/true"]);
        let c = exec_candidates(OsStr::new("./x"), Some(OsStr::new("/a")));
        assert_eq!(c, ["./x"]);
    }

    #[test]
    fn nul_bytes_are_refused_before_clone() {
        let argv = [OsString::from("a\0b")];
        let err = PlanData::build(PlanInput {
            program: OsStr::new("true"),
            argv: &argv,
            env: None,
            path_var: None,
            steps: &[],
            stdio: [-1; 3],
            keep_fds: &[],
            close_other_fds: true,
            fd_table_shared: false,
            reset_signals: false,
            sigmask: 0,
            default_signals: 0,
            report_fd: -1,
            sync_fds: (-1, -1),
            hook_fds: [-1; 3],
            slots: 0,
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("NUL byte"), "{err}");
    }

    #[test]
    fn a_description_read_later_says_what_format_said() {
        let odd = Path::new(OsStr::from_bytes(b"/d\xffev"));
        let what = What::path(["bind /dev/", "null", " on "], odd, ["/", "x", " -> ", "y"]);
        assert_eq!(
            what.as_str(),
            format!("bind /dev/null on {}/x -> y", odd.display())
        );
        assert_eq!(what.to_string(), "bind /dev/null on /d\u{fffd}ev/x -> y");
        let (fixed, built) = (What::from("close"), What::from(String::from("chdir /a")));
        assert!(fixed == "close" && built == "chdir /a", "{fixed} {built}");
        let step = Step::new(Op::Setsid, What::path(["mkdir "], Path::new("/a b"), []));
        assert_eq!(step.clone().what.as_str(), "mkdir /a b");
    }
}
