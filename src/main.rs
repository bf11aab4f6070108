//! The `protector` binary: everything is in the library's `cli` module.

fn main() -> std::process::ExitCode {
    protector::cli::main()
}
