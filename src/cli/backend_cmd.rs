//! `siamese-face backend [--json]`: which adapters exist and which backend would run.

use std::process::ExitCode;

use siamese_face::backend::{self, BackendRequest};

pub fn run(request: BackendRequest, json: bool) -> anyhow::Result<ExitCode> {
    // The adapters are listed whatever was requested.
    let selection = backend::select_from(request, backend::probe_adapters())?;
    if json {
        let value = serde_json::json!({
            "request": request,
            "backend": selection.kind,
            "label": selection.label(),
            "adapter": selection.adapter,
            "adapters": selection.adapters,
            "reason": selection.reason,
        });
        println!("{value}");
    } else {
        println!("backend  {}", selection.label());
        println!("reason   {}", selection.reason);
        for a in &selection.adapters {
            println!(
                "adapter  {} [{} via {}{}]",
                a.name,
                a.device_type,
                a.api,
                if a.hardware { "" } else { ", software" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
