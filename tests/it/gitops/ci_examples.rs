//! The CI examples: every `masctl` command line in them is one this masctl accepts, and they
//! run the GitOps steps in order (validate, plan with a saved plan and a Markdown summary,
//! apply of that saved plan).

use clap::Parser;
use masctl::cli::Cli;

/// Returns every `masctl …` command in a CI file, continuation lines joined, redirections cut.
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let line = line.trim_start_matches("- ").trim_start_matches("run: ");
        let Some(rest) = line.strip_prefix("masctl ") else {
            continue;
        };
        let mut command = rest.to_owned();
        while command.ends_with('\\') {
            command.pop();
            command.push(' ');
            command.push_str(lines.next().unwrap_or_default());
        }
        let command = command.split(" >").next().unwrap_or_default();
        let mut words = vec!["masctl".to_owned()];
        words.extend(
            command
                .split_whitespace()
                .map(|word| word.trim_matches('"').to_owned()),
        );
        commands.push(words);
    }
    commands
}

#[test]
fn ci_examples_use_valid_commands_in_order() {
    for file in [
        "examples/ci/github-actions.yml",
        "examples/ci/gitlab-ci.yml",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(path).unwrap();
        let _: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let commands = commands(&text);
        for command in &commands {
            if let Err(error) = Cli::try_parse_from(command) {
                panic!("{file}: {command:?} is refused: {error}");
            }
        }
        let verbs: Vec<&str> = commands
            .iter()
            .filter_map(|words| {
                ["validate", "plan", "apply"]
                    .into_iter()
                    .find(|verb| words.iter().any(|word| word == verb))
            })
            .collect();
        assert_eq!(verbs, ["validate", "plan", "apply"], "{file}");
        let joined: Vec<String> = commands.iter().map(|words| words.join(" ")).collect();
        assert!(
            joined[1].contains("--output markdown") && joined[1].contains("-o plan.json"),
            "{file}"
        );
        assert!(joined[2].contains("apply --plan plan.json"), "{file}");
    }
}
