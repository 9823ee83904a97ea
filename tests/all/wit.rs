//! The WIT contract is versioned: changing `wit/operator.wit` without bumping its package
//! version (and recording the new version in `wit/versions.txt`) fails here.

use eddy_tests::repo_root;

#[test]
fn the_wit_file_matches_its_recorded_version() {
    let text = std::fs::read_to_string(repo_root().join("wit/operator.wit")).unwrap();
    let version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("package eddy:operator@"))
        .and_then(|v| v.strip_suffix(';'))
        .expect("a `package eddy:operator@X.Y.Z;` line");
    let recorded = std::fs::read_to_string(repo_root().join("wit/versions.txt")).unwrap();
    let hash = recorded
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("{version} ")))
        .unwrap_or_else(|| panic!("version {version} is not in wit/versions.txt"));
    let actual = sha256_hex(text.as_bytes());
    assert_eq!(
        hash.trim(),
        actual,
        "wit/operator.wit changed but its package version ({version}) did not: bump it and add a line to wit/versions.txt"
    );
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}
