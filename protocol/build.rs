// The scanner macros read the XML at compile time; rebuild when it changes.
fn main() {
    println!("cargo:rerun-if-changed=buffer-collection-v1.xml");
}
