/// `mi_option_arena_eager_commit` in the bundled mimalloc v2 (libmimalloc-sys does not
/// name it).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

mod cli;
mod commands;

fn main() {
    // Commit mimalloc's arena memory as it is used rather than up front: about the same
    // speed here, and peak memory stays with the rows in flight and the duplicate keys.
    // SAFETY: sets a process-wide allocator option before any thread is started.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
    std::process::exit(commands::main());
}

// Rows are built on the reader thread and freed on others; mimalloc handles that
// pattern (and the many small strings) far better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
