fn main() {
    std::process::exit(roster::cli::main());
}
