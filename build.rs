//! Give the shared library a SONAME, as a distribution expects (cargo-c's
//! convention: libwsclient.so.MAJOR, or .so.0.MINOR before 1.0).

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    let soversion = if major == "0" {
        format!("0.{minor}")
    } else {
        major.to_string()
    };
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libwsclient.so.{soversion}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
