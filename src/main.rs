//! The binary: parse arguments, hand over to the library, map the result to an exit status.

fn main() -> std::process::ExitCode {
    use clap::Parser;
    telltale::main_with(telltale::cli::Cli::parse()).into()
}
