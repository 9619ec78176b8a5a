//! Weight files: compiled into the binary (so the program works wherever it is copied),
//! and written atomically.

/// Burnpack tensors sit at 256-byte offsets from the start of the file and are used in
/// place (zero-copy), so embedded bytes must start on a 256-byte boundary too: the CPU
/// backend reinterprets them as f32 and panics on misaligned data.
#[repr(C, align(256))]
pub struct Aligned<T: ?Sized>(pub T);

/// `include_bytes!` at a 256-byte aligned address: `embed_aligned!("path")` is a
/// `&'static [u8]`.
#[macro_export]
macro_rules! embed_aligned {
    ($path:literal) => {{
        static BYTES: &$crate::embedded::Aligned<[u8]> =
            &$crate::embedded::Aligned(*include_bytes!($path));
        &BYTES.0
    }};
}

/// Writes `module` as a burnpack at `out` with `metadata`, atomically (a temporary file
/// renamed into place). The error is the store's or the file system's message.
pub fn save_burnpack<M: burn::store::ModuleSnapshot>(
    module: &M,
    out: &std::path::Path,
    metadata: &[(&str, &str)],
) -> Result<(), String> {
    let tmp = out.with_extension("bpk.tmp");
    let mut store = burn::store::BurnpackStore::from_file(&tmp)
        .auto_extension(false)
        .overwrite(true);
    for (k, v) in metadata {
        store = store.metadata(*k, *v);
    }
    // Flushed before the rename, so a crash leaves the old file or the whole new one; a
    // failed write (a full disk) leaves nothing behind.
    let written = module
        .save_into(&mut store)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let file = std::fs::File::open(&tmp).map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, out).map_err(|e| e.to_string())
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
