//! Command-line cases that need no database, run by trycmd: `tests/cmd/*.toml`.
//!
//! Each case names its arguments, exit status, stdout and stderr; an `X.in/` directory beside
//! `X.toml` is the working directory and holds the manifests. Rerun with `TRYCMD=overwrite`
//! to accept new output, then review the diff.

#[test]
fn cli_tests() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
