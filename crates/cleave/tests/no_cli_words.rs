//! The library names no option of the command line: an error carries its origin, and each
//! front end (the CLI, an OCI config) words it itself. This scans the library's sources for
//! string literals that start with `--` (comments and tests excluded).
use std::path::Path;

fn scan(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, found);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests may quote what a front end would pass.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            let mut rest = line;
            while let Some(i) = rest.find("\"--") {
                let word: String = rest[i + 3..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                    .collect();
                if !word.is_empty() {
                    found.push(format!("{}:{}: \"--{word}", path.display(), n + 1));
                }
                rest = &rest[i + 3..];
            }
        }
    }
}

#[test]
fn the_library_names_no_command_line_option() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    scan(&src, &mut found);
    assert!(
        found.is_empty(),
        "CLI words in the library:\n{}",
        found.join("\n")
    );
}
