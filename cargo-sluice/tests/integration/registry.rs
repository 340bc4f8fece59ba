//! package, push, pull and inspect against a real registry, skopeo as an
//! independent client, host-sim loading by reference, credentials, and bad
//! input (each: a clear error, exit status 1, nothing written).

use std::process::Command;

use crate::common::{Registry, Scratch, module, sluice_err, sluice_ok, status_of, write};
use host_sim::PluginSpec;
use host_sim::oci::{PullOptions, PullPolicy, Reference};

fn options(cache: &Scratch) -> PullOptions {
    PullOptions {
        insecure: true,
        credentials: None,
        cache: Some(cache.path("cache")),
        policy: PullPolicy::IfNotPresent,
    }
}

/// skopeo's view of the pushed manifest, if skopeo is installed.
fn skopeo_manifest(image: &str) -> Option<serde_json::Value> {
    let out =
        Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{image}")]).output();
    match out {
        Ok(out) => {
            assert!(out.status.success(), "skopeo inspect {image}: {}", String::from_utf8_lossy(&out.stderr));
            Some(serde_json::from_slice(&out.stdout).expect("skopeo prints the manifest"))
        }
        Err(_) => {
            eprintln!("skopeo is not installed: the independent read-back is skipped (apt-get install skopeo)");
            None
        }
    }
}

fn digest_in(text: &str) -> String {
    let at = text.find("sha256:").expect("a digest in the output");
    text[at..at + 71].to_owned()
}

#[test]
fn both_formats_round_trip_through_the_registry() {
    let Some(registry) = Registry::start("formats", None) else { return };
    let dir = Scratch::new("formats");
    let wasm = write(&dir, "plugin.wasm", &module(418));
    for (format, manifest_type, layer_type) in [
        ("oci", host_sim::oci::OCI_MANIFEST, host_sim::oci::WASM_LAYER),
        ("docker", host_sim::oci::DOCKER_MANIFEST, host_sim::oci::DOCKER_LAYER),
    ] {
        // `package` twice: the same digest.
        let (a, b) = (dir.path(&format!("{format}-a")), dir.path(&format!("{format}-b")));
        let first = sluice_ok(&["package", &wasm, "--out", &a.display().to_string(), "--format", format], &[]);
        let second = sluice_ok(&["package", &wasm, "--out", &b.display().to_string(), "--format", format], &[]);
        assert_eq!(digest_in(&first), digest_in(&second), "{format}: the same input gives the same digest");

        // Push the layout; the registry's digest is the layout's.
        let image = registry.image(&format!("{format}/plugin:v1"));
        let pushed = sluice_ok(&["push", &a.display().to_string(), &image, "--insecure"], &[]);
        assert_eq!(digest_in(&pushed), digest_in(&first), "{format}: pushed as packaged");
        // Pushing the module itself gives the same image.
        let again = sluice_ok(&["push", &wasm, &image, "--insecure", "--format", format], &[]);
        assert_eq!(digest_in(&again), digest_in(&first), "{format}: push MODULE builds the same image");

        if let Some(manifest) = skopeo_manifest(&image) {
            assert_eq!(manifest["mediaType"], manifest_type, "{format}: {manifest}");
            let layers = manifest["layers"].as_array().expect("layers");
            assert_eq!(layers.last().expect("a layer")["mediaType"], layer_type, "{format}: {manifest}");
            if format == "oci" {
                assert_eq!(manifest["config"]["mediaType"], host_sim::oci::WASM_CONFIG);
                assert_eq!(layers.len(), 2, "Istio's oci variant has two layers");
            }
        }

        // Pull it back: the module, byte for byte.
        let out = dir.path(&format!("{format}-pulled.wasm"));
        sluice_ok(&["pull", &image, "-o", &out.display().to_string(), "--insecure"], &[]);
        assert_eq!(std::fs::read(&out).unwrap(), module(418), "{format}");

        // host-sim loads it by tag and by digest, the second time from its cache.
        let cache = Scratch::new(&format!("cache-{format}"));
        let by_tag = Reference::parse(&format!("oci://{image}")).unwrap();
        let (spec, pulled) = PluginSpec::from_reference_with(&by_tag, &options(&cache)).unwrap();
        assert_eq!((status_of(spec), pulled.cached, pulled.manifest_digest.clone()), (418, false, digest_in(&first)));
        let by_digest = by_tag.with_digest(&pulled.manifest_digest);
        let (spec, pulled) = PluginSpec::from_reference_with(&by_digest, &options(&cache)).unwrap();
        assert_eq!((status_of(spec), pulled.cached), (418, true), "{format}: served from the cache by digest");

        // inspect reads a reference too.
        let inspected = sluice_ok(&["inspect", &format!("oci://{image}"), "--insecure", "--json"], &[]);
        let report: serde_json::Value = serde_json::from_str(&inspected).unwrap();
        assert_eq!(report["image_digest"], digest_in(&first));
        assert_eq!(report["abi_version"], "0.2.1");
    }
}

#[test]
fn a_new_tag_is_pulled_anew_and_digests_pin_images() {
    let Some(registry) = Registry::start("tags", None) else { return };
    let dir = Scratch::new("tags");
    let image = registry.image("moving:latest");
    let first = sluice_ok(&["push", &write(&dir, "a.wasm", &module(401)), &image, "--insecure"], &[]);
    sluice_ok(&["push", &write(&dir, "b.wasm", &module(402)), &image, "--insecure"], &[]);
    let out = dir.path("now.wasm").display().to_string();
    sluice_ok(&["pull", &image, "-o", &out, "--insecure"], &[]);
    assert_eq!(std::fs::read(&out).unwrap(), module(402), "the tag names the last push");
    let pinned = format!("{}@{}", registry.image("moving"), digest_in(&first));
    sluice_ok(&["pull", &pinned, "-o", &out, "--insecure"], &[]);
    assert_eq!(std::fs::read(&out).unwrap(), module(401), "the digest names the first push");
}

#[test]
fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let Some(registry) = Registry::start("bad", None) else { return };
    let dir = Scratch::new("bad");
    let wasm = write(&dir, "plugin.wasm", &module(200));
    let out = dir.path("out.wasm");
    let out_text = out.display().to_string();

    // An unreachable registry (a port nothing listens on).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let err = sluice_err(&["pull", &format!("{closed}/p:v1"), "-o", &out_text, "--insecure"], &[]);
    assert!(err.contains("cannot reach the registry"), "{err}");
    let err = sluice_err(&["push", &wasm, &format!("{closed}/p:v1"), "--insecure"], &[]);
    assert!(err.contains("cannot reach the registry"), "{err}");

    // A tag that does not exist; a digest that does not exist.
    let err = sluice_err(&["pull", &registry.image("nothing:here"), "-o", &out_text, "--insecure"], &[]);
    assert!(err.contains("does not exist"), "{err}");
    sluice_ok(&["push", &wasm, &registry.image("p:v1"), "--insecure"], &[]);
    let err = sluice_err(&["pull", &registry.image("p:v2"), "-o", &out_text, "--insecure"], &[]);
    assert!(err.contains("does not exist"), "{err}");
    let missing = format!("{}@sha256:{}", registry.image("p"), "0".repeat(64));
    let err = sluice_err(&["pull", &missing, "-o", &out_text, "--insecure"], &[]);
    assert!(err.contains("does not exist"), "{err}");

    // A digest that does not match: a damaged layout is not pushed.
    let layout = dir.path("layout");
    let packaged = sluice_ok(&["package", &wasm, "--out", &layout.display().to_string()], &[]);
    let module_blob = layout.join("blobs/sha256").join(&host_sim::oci::sha256_digest(&module(200))[7..]);
    std::fs::write(&module_blob, module(500)).unwrap();
    let err = sluice_err(&["push", &layout.display().to_string(), &registry.image("damaged:v1"), "--insecure"], &[]);
    assert!(err.contains("digest mismatch"), "{err}");
    let err = sluice_err(&["pull", &registry.image("damaged:v1"), "-o", &out_text, "--insecure"], &[]);
    assert!(err.contains("does not exist"), "nothing was pushed: {err}");
    // A WasmPlugin whose sha256 is not the image's digest.
    let manifest = format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: p}}\nspec:\n  url: oci://{}\n  sha256: {}\n",
        registry.image("p:v1"),
        "1".repeat(64)
    );
    let err = PluginSpec::from_wasm_plugin(write(&dir, "wp.yaml", manifest.as_bytes())).unwrap_err().to_string();
    let digest = digest_in(&packaged);
    assert!(
        err.contains("the image manifest's SHA-256 is") && err.contains(digest.trim_start_matches("sha256:")),
        "{err}"
    );

    // Not a Proxy-Wasm module: not wasm; no ABI marker.
    let text = write(&dir, "notes.wasm", b"these are notes, not a module\n");
    let plain = write(&dir, "plain.wasm", &wat::parse_str("(module (memory (export \"memory\") 1))").unwrap());
    let refused_image = registry.image("refused:v1");
    let refused_layout = dir.path("refused-layout").display().to_string();
    for (file, why) in [(&text, "not a wasm module"), (&plain, "ABI version")] {
        for args in [
            vec!["push", file.as_str(), refused_image.as_str(), "--insecure"],
            vec!["package", file.as_str(), "--out", refused_layout.as_str()],
            vec!["inspect", file.as_str()],
            vec!["manifest", file.as_str(), "--config", file.as_str()],
        ] {
            let err = sluice_err(&args, &[]);
            assert!(
                err.contains(why) || (args[0] == "manifest" && err.contains("neither JSON nor YAML")),
                "{args:?}: {err}"
            );
        }
    }
    let err = sluice_err(&["pull", &registry.image("refused:v1"), "-o", &out_text, "--insecure"], &[]);
    assert!(err.contains("does not exist"), "a refused module is not pushed: {err}");
    assert!(!dir.path("refused-layout").exists(), "no layout was written");
    assert!(!out.exists(), "no pull wrote a file");
}

#[test]
fn credentials_come_from_flags_or_the_docker_config() {
    let Some(registry) = Registry::start("auth", Some(("alice", "wonderland"))) else { return };
    let dir = Scratch::new("auth");
    let wasm = write(&dir, "plugin.wasm", &module(203));
    let image = registry.image("private/p:v1");

    let err = sluice_err(&["push", &wasm, &image, "--insecure"], &[]);
    assert!(err.contains("refused the credentials"), "anonymous: {err}\n{}", registry.log());
    let err = sluice_err(&["push", &wasm, &image, "--insecure", "--username", "alice", "--password", "queen"], &[]);
    assert!(err.contains("refused the credentials"), "wrong password: {err}");
    sluice_ok(&["push", &wasm, &image, "--insecure", "--username", "alice", "--password", "wonderland"], &[]);

    // The Docker config file `docker login` writes: auths.<registry>.auth = base64(user:password).
    let config = dir.path("docker");
    std::fs::create_dir_all(&config).unwrap();
    let write_config = |password: &str| {
        let auth = base64_encode(format!("alice:{password}").as_bytes());
        let text = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr);
        std::fs::write(config.join("config.json"), text).unwrap();
    };
    let out = dir.path("out.wasm").display().to_string();
    write_config("wonderland");
    sluice_ok(&["pull", &image, "-o", &out, "--insecure"], &[("DOCKER_CONFIG", &config)]);
    assert_eq!(std::fs::read(&out).unwrap(), module(203));
    write_config("queen");
    let err = sluice_err(&["pull", &image, "-o", &out, "--insecure"], &[("DOCKER_CONFIG", &config)]);
    assert!(err.contains("refused the credentials"), "{err}");
}

/// Standard base64 (the Docker config's `auth` encoding), written out here
/// so the test does not share the decoder it checks.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_base64_helper_matches_the_standard() {
    assert_eq!(base64_encode(b"alice:s3cr:et"), "YWxpY2U6czNjcjpldA==");
    assert_eq!(base64_encode(b"ab"), "YWI=");
    assert_eq!(base64_encode(b"abc"), "YWJj");
}
