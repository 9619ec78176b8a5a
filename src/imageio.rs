//! Reading face images with clear errors and bounded memory.

use std::path::{Path, PathBuf};

use image::{ImageReader, Limits, RgbImage, RgbaImage};

/// Largest image accepted, per side; LFW images are 250x250, phone photos ~4000x3000.
pub const MAX_SIDE: u32 = 16_384;
/// Decoder allocation cap (bytes), so a hostile header cannot exhaust memory.
pub const MAX_ALLOC: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ImageLoadError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an image in a supported format (JPEG, PNG, BMP, GIF, TIFF, WebP, PNM)")]
    UnknownFormat { path: PathBuf },
    #[error("cannot decode {path}: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path} is empty ({width}x{height})")]
    Empty {
        path: PathBuf,
        width: u32,
        height: u32,
    },
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Decodes any supported image (format sniffed from the bytes, not the extension) to 8-bit
/// RGB; grey, alpha, 16-bit and CMYK inputs are converted.
pub fn load_rgb(path: &Path) -> Result<RgbImage, ImageLoadError> {
    Ok(load(path)?.into_rgb8())
}

/// Like [`load_rgb`] but RGBA, for display.
pub fn load_rgba(path: &Path) -> Result<RgbaImage, ImageLoadError> {
    Ok(load(path)?.into_rgba8())
}

/// A thumbnail no larger than `max_side` on either side, aspect ratio kept.
pub fn thumbnail(path: &Path, max_side: u32) -> Result<RgbaImage, ImageLoadError> {
    Ok(load(path)?.thumbnail(max_side, max_side).into_rgba8())
}

/// Writes `img` as PNG atomically: to a temporary file beside `path`, then renamed over
/// it, so readers (and a crash) never see a half-written file.
pub fn save_png_atomic(img: &RgbImage, path: &Path) -> std::io::Result<()> {
    let mut buf = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut buf), image::ImageFormat::Png)
        .map_err(std::io::Error::other)?;
    write_atomic(path, &buf)
}

/// Writes `bytes` to `path` via a uniquely named temporary file in the same folder and a
/// rename (atomic on one filesystem).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // tempfile creates 0600; the result is an ordinary user file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn load(path: &Path) -> Result<image::DynamicImage, ImageLoadError> {
    let bytes = std::fs::read(path).map_err(|source| ImageLoadError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    decode(bytes, path)
}

/// Decodes a file's bytes already read (the face index hashes them first) as [`load_rgb`]
/// would; `path` names it in errors.
pub fn decode_rgb(bytes: Vec<u8>, path: &Path) -> Result<RgbImage, ImageLoadError> {
    Ok(decode(bytes, path)?.into_rgb8())
}

fn decode(bytes: Vec<u8>, path: &Path) -> Result<image::DynamicImage, ImageLoadError> {
    // The format comes from the bytes alone: a text file named .jpg is "not an image", not a
    // JPEG decoding error.
    let format = image::guess_format(&bytes).map_err(|_| ImageLoadError::UnknownFormat {
        path: path.to_path_buf(),
    })?;
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits());
    let image = reader.decode().map_err(|e| ImageLoadError::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if image.width() == 0 || image.height() == 0 {
        return Err(ImageLoadError::Empty {
            path: path.to_path_buf(),
            width: image.width(),
            height: image.height(),
        });
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_file_named_jpg_is_not_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.jpg");
        std::fs::write(&path, "hello, I am text").unwrap();
        let err = load_rgb(&path).unwrap_err();
        assert!(matches!(err, ImageLoadError::UnknownFormat { .. }), "{err}");
    }

    #[test]
    fn truncated_jpeg_is_a_decode_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.jpg");
        let mut bytes = Vec::new();
        RgbImage::from_pixel(64, 64, image::Rgb([200, 10, 10]))
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
        let err = load_rgb(&path).unwrap_err();
        assert!(matches!(err, ImageLoadError::Decode { .. }), "{err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = load_rgb(Path::new("/no/such/face.jpg")).unwrap_err();
        assert!(err.to_string().contains("/no/such/face.jpg"));
    }

    #[test]
    fn grey_png_becomes_rgb_and_thumbnail_keeps_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grey.png");
        image::GrayImage::from_pixel(200, 100, image::Luma([77]))
            .save(&path)
            .unwrap();
        let rgb = load_rgb(&path).unwrap();
        assert_eq!(rgb.get_pixel(5, 5).0, [77, 77, 77]);
        let thumb = thumbnail(&path, 64).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (64, 32));
    }
}
