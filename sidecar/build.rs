//! The console's assets are embedded (src/console/assets.rs): built from console/ by `make`
//! (`scripts/build-console.sh`). Say so plainly when they are missing, and rebuild when they change.

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../console/dist");
    for file in ["index.html", "assets/app.js", "assets/app.css"] {
        for path in [dist.join(file), dist.join(format!("{file}.gz"))] {
            if !path.exists() {
                panic!("{} is missing: build the console first (make console, or scripts/build-console.sh)", path.display());
            }
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
