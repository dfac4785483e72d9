//! `cleave explain`: what each flag does, and whether this kernel accepts the request.
use crate::cli::ExplainArgs;
use crate::report;
use cleave::flags::rules::{self, errno_name, Context, Interface, Request};
use cleave::flags::{parse_flags, signal_name, FlagKind, FLAG_INFO};
use cleave::CloneFlags;
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
    let mut ctx = Context::current();
    if let Some(k) = &a.kernel {
        match rules::parse_release(k) {
            Some(v) => ctx.kernel = v,
            None => {
                return report::bad_request(&format!("--kernel {k}: write MAJOR.MINOR, e.g. 6.8"))
            }
        }
    }
    if a.unprivileged {
        ctx.privileged = false;
    }
    let interface = if a.legacy {
        Interface::Legacy
    } else {
        Interface::Clone3
    };
    let request = Request {
        flags,
        exit_signal: signal,
        interface,
        set_tid_len: 0,
    };
    let violations = rules::check(&request, &ctx);
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
            "valid": violations.is_empty(),
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
            if a.legacy { "clone()" } else { "clone3()" }
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
            "privileged"
        } else {
            "unprivileged"
        };
        if violations.is_empty() {
            println!(
                "verdict: valid on Linux {}.{} for a {who} caller",
                ctx.kernel.0, ctx.kernel.1
            );
        } else {
            println!(
                "verdict: refused on Linux {}.{} for a {who} caller; the kernel answers {}:",
                ctx.kernel.0,
                ctx.kernel.1,
                errno_name(violations[0].errno)
            );
            for v in &violations {
                println!("  {v}");
            }
        }
    }
    if violations.is_empty() {
        0
    } else {
        1
    }
}
