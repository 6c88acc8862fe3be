//! `cargo xtask diff`: PLACEHOLDER, being written.

/// Runs the command with the arguments after its name.
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("not implemented yet".into())
}
