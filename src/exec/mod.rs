//! Executor: a pool of workers behind one pacer per server route.
