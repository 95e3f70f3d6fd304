fn main() {
    std::process::exit(roster::cli::main());
}

// Rows are built on the reader thread and freed on others; mimalloc handles that
// pattern (and the many small strings) far better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
