//! The `faultline` binary: the CLI with the built-in protocols.

fn main() -> std::process::ExitCode {
    faultline::cli::main()
}
