//! The `gocache` binary: parse the command line, run the server.

use gocache::config::{self, Invocation, USAGE};

fn main() {
    let invocation = match config::parse(std::env::args().skip(1)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("gocache: {e}\n\n{USAGE}");
            std::process::exit(e.exit_status());
        }
    };
    let config = match invocation {
        Invocation::Help => {
            print!("{USAGE}");
            return;
        }
        Invocation::Version => {
            println!("gocache {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Invocation::Serve(config) => config,
    };
    match gocache::server::run(config) {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            gocache::warning!("{e}");
            eprintln!("gocache: {e}");
            std::process::exit(e.exit_status());
        }
    }
}
