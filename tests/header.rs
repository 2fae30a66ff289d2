//! The committed C header must be what cbindgen generates from the sources.
//! Regenerate with `make header` (WSCLIENT_BLESS=1 cargo test --test header).

use std::path::Path;

#[test]
fn header_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let version_line = format!("#define WSCLIENT_VERSION \"{version}\"");
    assert!(
        config
            .after_includes
            .as_deref()
            .unwrap_or("")
            .contains(&version_line),
        "cbindgen.toml's version macros do not match Cargo.toml ({version})"
    );
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut generated);
    let path = root.join("include/wsclient.h");
    if std::env::var_os("WSCLIENT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/wsclient.h is stale: run `make header` and commit it"
    );
}
