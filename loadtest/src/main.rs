//! orderhook-loadtest: signed webhooks in, deliveries counted out. See
//! BENCHMARKS.md for the scenarios it drives.

use std::process::ExitCode;

use clap::Parser;
use orderhook_loadtest::Options;

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    match orderhook_loadtest::run(options).await {
        Ok(report) if report.passed() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(err) => {
            eprintln!("orderhook-loadtest: {err:#}");
            ExitCode::from(2)
        }
    }
}
