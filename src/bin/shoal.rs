//! The `shoal` command line.

fn main() {
    println!("shoal {}", env!("CARGO_PKG_VERSION"));
}
