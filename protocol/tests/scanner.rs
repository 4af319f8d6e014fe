//! The XML passes the C `wayland-scanner` in strict mode (`-s`) for every
//! output C clients and servers use. `libwayland-bin` is in scripts/deps.sh.

use std::process::Command;

#[test]
fn c_wayland_scanner_accepts_the_xml_strictly() {
    let xml = concat!(env!("CARGO_MANIFEST_DIR"), "/buffer-collection-v1.xml");
    let out_dir = std::env::temp_dir().join(format!("accord-scanner-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    for mode in ["client-header", "server-header", "private-code"] {
        let out = out_dir.join(mode);
        let result = Command::new("wayland-scanner")
            .args(["-s", mode, xml])
            .arg(&out)
            .output()
            .expect("wayland-scanner (Debian: libwayland-bin) must be installed");
        assert!(
            result.status.success(),
            "wayland-scanner -s {mode}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("wp_buffer_collection_v1"), "{mode} output");
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}
