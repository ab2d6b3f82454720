//! The README's Rust code runs: every ```rust block of README.md appears,
//! line for line (leading spaces aside), in `examples/tour.rs`, which CI
//! runs and which checks its own outcome.

fn rust_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```rust") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(b), l) => b.push(l.trim().to_string()),
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_rust_block_of_the_readme_is_in_the_tour_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let tour = std::fs::read_to_string(format!("{root}/examples/tour.rs")).unwrap();
    let tour: Vec<String> = tour.lines().map(|l| l.trim().to_string()).collect();
    let blocks = rust_blocks(&readme);
    assert!(
        blocks.len() >= 2,
        "the README's tour has {} Rust blocks",
        blocks.len()
    );
    for block in blocks {
        let found = tour.windows(block.len()).any(|w| w == block.as_slice());
        assert!(
            found,
            "README block not in examples/tour.rs verbatim:\n{}",
            block.join("\n")
        );
    }
}

#[test]
fn the_readme_stays_short() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; the rest belongs in docs/"
    );
}

/// Every file the README links or shows (`](path)`, not a web address)
/// is in the repository: the screenshots and plots it shows among them.
#[test]
fn every_file_the_readme_names_exists() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let mut named = 0;
    for piece in readme.split("](").skip(1) {
        let target = piece.split(')').next().unwrap_or("");
        if target.starts_with("http") || target.starts_with('#') {
            continue;
        }
        let path = target.split('#').next().unwrap_or("");
        named += 1;
        assert!(
            std::path::Path::new(root).join(path).exists(),
            "the README names {path}, which is not in the repository"
        );
    }
    assert!(named >= 8, "only {named} files named");
}
