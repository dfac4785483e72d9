//! `cleave inspect`: what two running processes share, resource by resource.
use crate::cli::InspectArgs;
use crate::report;
use cleave::inspect::{compare, Report, Shared};

pub fn run(a: InspectArgs) -> i32 {
    let r = match compare(a.pid, a.other) {
        Ok(r) => r,
        Err(e) => return report::error(&e),
    };
    if a.json {
        match serde_json::to_string_pretty(&r) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("cleave: cannot render JSON: {e}");
                return report::EXIT_SETUP_FAILED;
            }
        }
    } else {
        print!("{}", table(&r));
    }
    match nothing_compared(&r) {
        Some(why) => {
            eprintln!(
                "cleave: no shared resource of {} and {} could be compared: {why}",
                r.pid, r.other
            );
            report::EXIT_SETUP_FAILED
        }
        None => 0,
    }
}

/// Why nothing clone shares could be told, when every row about a resource (memory, fds,
/// namespaces, ...) is unknown; the rows read from /proc/PID/stat (thread group, parent,
/// exit signal) say nothing about sharing.
fn nothing_compared(r: &Report) -> Option<String> {
    let mut resources = r
        .rows
        .iter()
        .filter(|row| !matches!(row.key.as_str(), "thread-group" | "parent" | "exit-signal"))
        .peekable();
    resources.peek()?;
    let mut first_reason = None;
    for row in resources {
        if row.shared != Shared::Unknown {
            return None;
        }
        first_reason = first_reason.or_else(|| row.reason.clone());
    }
    Some(first_reason.unwrap_or_else(|| "every row is unknown".into()))
}

/// The report as an aligned table, the reason of an unknown row in the last column.
fn table(r: &Report) -> String {
    let mut out = format!(
        "process {} compared with {}{}\n",
        r.pid,
        r.other,
        if r.other_is_parent {
            " (its parent)"
        } else {
            ""
        }
    );
    let head = ["RESOURCE", "FLAG", "SHARED", "DETAIL"];
    let rows: Vec<[String; 4]> = r
        .rows
        .iter()
        .map(|row| {
            [
                row.resource.clone(),
                row.flag.to_string(),
                row.shared.to_string(),
                row.reason.clone().unwrap_or_else(|| row.detail.clone()),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2]
        )
    };
    out.push_str(&line(head));
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
    }
    out
}
