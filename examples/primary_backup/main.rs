//! A faultline binary of your own: the built-in protocols plus a primary-backup store, with
//! every subcommand of the `faultline` CLI.
//!
//! ```text
//! cargo run --example primary_backup -- list
//! cargo run --example primary_backup -- validate examples/primary-backup.ron
//! cargo run --example primary_backup -- run examples/primary-backup.ron
//! cargo run --example primary_backup -- run examples/primary-backup-bad.ron   # exits 1
//! cargo run --example primary_backup -- run examples/primary-backup-resend-before-sync.ron
//! ```

mod protocol;

use protocol::PrimaryBackup;

fn main() -> std::process::ExitCode {
    faultline::cli::main_with(faultline::Registry::builtin().with::<PrimaryBackup>())
}
