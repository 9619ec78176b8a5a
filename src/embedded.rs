//! Weight files compiled into the binary, so the program works wherever it is copied.

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
