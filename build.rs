//! Rebuilds the binary when a built-in blueprint changes: `include_dir!`
//! embeds `blueprints/` but does not tell cargo to watch it, so an edited
//! blueprint would otherwise keep its old built-in copy until a source
//! file changed.

fn main() {
    println!("cargo:rerun-if-changed=blueprints");
}
