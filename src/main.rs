//! The `gocache` binary: parse the command line, run the server.

use gocache::config::{self, Invocation};

fn main() {
    let invocation = match config::parse(std::env::args().skip(1)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("gocache: {e}\n\n{}", config::usage());
            std::process::exit(e.exit_status());
        }
    };
    let startup = match invocation {
        Invocation::Help => {
            print!("{}", config::usage());
            return;
        }
        Invocation::Version => {
            println!("gocache {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Invocation::Serve(startup) => *startup,
    };
    match gocache::server::run(startup) {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            gocache::warning!("{e}");
            eprintln!("gocache: {e}");
            std::process::exit(e.exit_status());
        }
    }
}
