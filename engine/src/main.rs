//! The `ronto` binary: everything lives in the `engine` library (`engine::cli`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(engine::cli::run(&args));
}
