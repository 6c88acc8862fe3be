//! `cargo xtask crd --out DIR FILE…` and `cargo xtask crd --out DIR --from-cluster`: custom
//! resource types from CRD manifests (files or directories of YAML/JSON) or from the CRDs of the
//! cluster of the kubeconfig, through `k8s_codegen::crd`.

use std::path::PathBuf;
use std::time::Instant;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut out: Option<PathBuf> = None;
    let mut inputs = Vec::new();
    let mut from_cluster = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = it.next().map(PathBuf::from),
            "--from-cluster" => from_cluster = true,
            s if s.starts_with("--") => return Err(format!("crd: unknown option {s}")),
            s => inputs.push(PathBuf::from(s)),
        }
    }
    let out = out.ok_or("crd: --out DIR is required")?;
    let start = Instant::now();
    let counts = if from_cluster {
        if !inputs.is_empty() {
            return Err("crd: give files or --from-cluster, not both".into());
        }
        let sources = cluster::read()?;
        let output = k8s_codegen::crd::generate_sources(&sources).map_err(|e| e.to_string())?;
        k8s_codegen::crd::write_output(&out, &output).map_err(|e| e.to_string())?;
        output.counts
    } else {
        if inputs.is_empty() {
            return Err("crd: no CRD files or directories given".into());
        }
        k8s_codegen::crd::generate(&inputs, &out).map_err(|e| e.to_string())?
    };
    println!(
        "{} CRDs, {} kinds, {} versions: {} types in {} files under {} ({:.0} ms)",
        counts.crds,
        counts.kinds,
        counts.versions,
        counts.types,
        counts.files,
        out.display(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

mod cluster {
    use k8s_codegen::crd::CrdSource;

    /// The CRDs of the kubeconfig's cluster, as JSON (a path request: no dependency on the
    /// generated API).
    pub fn read() -> Result<Vec<CrdSource>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let client = k8s_client::Client::infer()
                .await
                .map_err(|e| e.to_string())?;
            let req = k8s_core::Request::new(
                http::Method::GET,
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            );
            let body = client.send_raw(&req).await.map_err(|e| e.to_string())?;
            let list: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| format!("CRD list: {e}"))?;
            let items = list
                .get("items")
                .and_then(serde_json::Value::as_array)
                .cloned()
                .unwrap_or_default();
            Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, mut crd)| {
                    // Lists leave out the items' apiVersion and kind.
                    if let Some(o) = crd.as_object_mut() {
                        o.insert("apiVersion".into(), "apiextensions.k8s.io/v1".into());
                        o.insert("kind".into(), "CustomResourceDefinition".into());
                    }
                    CrdSource::new("cluster".into(), Some(i), crd)
                })
                .collect())
        })
    }
}
