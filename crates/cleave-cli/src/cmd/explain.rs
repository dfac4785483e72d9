//! `cleave explain`: what each flag does, and whether this kernel accepts the request.
use crate::cli::ExplainArgs;
use crate::report;
use cleave::flags::rules::{self, errno_name, Context, Interface, Request, CLONE3_SINCE};
use cleave::flags::{check_set_tid, parse_flags, signal_name, FlagKind, FLAG_INFO};
use cleave::{host, CloneFlags};
use serde_json::json;

pub fn run(a: ExplainArgs) -> i32 {
    let expr = match parse_flags(&a.expr) {
        Ok(e) => e,
        Err(e) => return report::bad_request(&e.to_string()),
    };
    let flags = expr.flags;
    let signal = match (&a.exit_signal, expr.exit_signal) {
        (Some(s), _) => match super::parse_exit_signal(s) {
            Ok(s) => s,
            Err(msg) => return report::bad_request(&msg),
        },
        (None, Some(s)) => s,
        (None, None) if flags.intersects(CloneFlags::THREAD | CloneFlags::PARENT) => 0,
        (None, None) => libc::SIGCHLD,
    };
    let ctx = match context(&a) {
        Ok(c) => c,
        Err(msg) => return report::bad_request(&msg),
    };
    // Without clone3 (a kernel before 5.3) cleave uses clone(): judge that.
    let legacy = a.legacy || !ctx.clone3;
    let interface = if legacy {
        Interface::Legacy
    } else {
        Interface::Clone3
    };
    let request = Request {
        flags,
        exit_signal: signal,
        interface,
        set_tid_len: a.set_tid.len(),
    };
    let violations = rules::check(&request, &ctx);
    // set_tid's PIDs are values the kernel checks after the flags (alloc_pid).
    let set_tid_problem = (!a.set_tid.is_empty())
        .then(|| {
            check_set_tid(
                &a.set_tid,
                flags.contains(CloneFlags::NEWPID),
                host::pid_max(),
            )
            .err()
        })
        .flatten()
        .map(|e| e.named("EINVAL (set_tid): set_tid PID"));
    let valid = violations.is_empty() && set_tid_problem.is_none();
    let rows: Vec<_> = FLAG_INFO
        .iter()
        .filter(|i| flags.contains(i.flag))
        .collect();
    let signal_text = if signal == 0 {
        "none".to_string()
    } else {
        signal_name(signal)
    };
    if a.json {
        let out = json!({
            "flags": flags.to_kernel_string(),
            "bits": format!("{:#x}", flags.bits()),
            "exit_signal": signal,
            "exit_signal_name": signal_text,
            "interface": interface,
            "context": {
                "kernel": format!("{}.{}", ctx.kernel.0, ctx.kernel.1),
                "clone3": ctx.clone3,
                "privileged": ctx.privileged,
                "pid_ns_init": ctx.pid_ns_init,
                "pid_ns_for_children_differs": ctx.pid_ns_for_children_differs,
            },
            "details": rows.iter().map(|i| json!({
                "name": i.name,
                "short": i.short,
                "kind": i.kind,
                "since": format!("{}.{}", i.since.0, i.since.1),
                "effect": i.effect,
            })).collect::<Vec<_>>(),
            "valid": valid,
            "set_tid": set_tid_problem,
            "violations": violations.iter().map(|v| json!({
                "rule": v.rule.id,
                "errno": v.errno,
                "errno_name": errno_name(v.errno),
                "why": v.rule.why,
                "flags": v.rule.flags.to_kernel_string(),
                "suite": v.rule.suite,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!(
            "{} ({:#x}), exit signal {}, via {}",
            flags,
            flags.bits(),
            signal_text,
            match (legacy, a.legacy) {
                (false, _) => "clone3()",
                (true, true) => "clone()",
                (true, false) => "clone() (no clone3 before 5.3: cleave falls back to clone())",
            }
        );
        if rows.is_empty() {
            println!(
                "  no flag: a plain fork(): the child gets a copy of everything and shares nothing"
            );
        }
        for i in &rows {
            let kind = match i.kind {
                FlagKind::Share => "shares",
                FlagKind::Isolate => "isolates",
                FlagKind::Control => "controls",
                FlagKind::Obsolete => "obsolete",
            };
            println!(
                "  {:<22} {:<8} since {}.{:<3} {}",
                i.name, kind, i.since.0, i.since.1, i.effect
            );
        }
        let who = if ctx.privileged {
            "a privileged"
        } else {
            "an unprivileged"
        };
        if let Some(problem) = &set_tid_problem {
            println!(
                "verdict: refused on Linux {}.{} for {who} caller; the kernel answers {}:",
                ctx.kernel.0,
                ctx.kernel.1,
                violations
                    .first()
                    .map_or("EINVAL".to_string(), |v| errno_name(v.errno))
            );
            for v in &violations {
                println!("  {v}");
            }
            println!("  {problem}");
        } else if violations.is_empty() {
            println!(
                "verdict: valid on Linux {}.{} for {who} caller",
                ctx.kernel.0, ctx.kernel.1
            );
        } else {
            println!(
                "verdict: refused on Linux {}.{} for {who} caller; the kernel answers {}:",
                ctx.kernel.0,
                ctx.kernel.1,
                errno_name(violations[0].errno)
            );
            for v in &violations {
                println!("  {v}");
            }
        }
    }
    if valid {
        0
    } else {
        1
    }
}

/// The facts to judge by: those the options state, the running system's for the rest.
/// `--kernel` judges for another machine, which has clone3 exactly when its kernel does;
/// `--unprivileged` for a caller without CAP_SYS_ADMIN. The caller's place in the PID
/// namespaces is always this process's own.
fn context(a: &ExplainArgs) -> Result<Context, String> {
    let kernel = match &a.kernel {
        Some(k) => Some(
            rules::parse_release(k)
                .ok_or_else(|| format!("--kernel {k}: write MAJOR.MINOR, e.g. 6.8"))?,
        ),
        None => None,
    };
    Ok(Context {
        kernel: kernel.unwrap_or_else(host::kernel_version),
        clone3: match kernel {
            Some(k) => k >= CLONE3_SINCE,
            None => host::clone3_available(),
        },
        privileged: !a.unprivileged && host::has_cap_sys_admin(),
        pid_ns_init: host::is_pid_ns_init(),
        pid_ns_for_children_differs: host::pid_ns_for_children_differs(),
    })
}
