//! Reading face images with clear errors and bounded memory.

use std::path::{Path, PathBuf};

use image::{ImageDecoder, ImageReader, Limits, RgbImage, RgbaImage};

/// Largest image accepted, per side; LFW images are 250x250, phone photos ~4000x3000.
pub const MAX_SIDE: u32 = 16_384;
/// Decoder allocation cap (bytes), so a hostile header cannot exhaust memory.
pub const MAX_ALLOC: u64 = 1 << 30;
/// Largest image file read (bytes): far above any photo, far below what would exhaust memory.
pub const MAX_FILE_BYTES: u64 = 512 << 20;

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
    save_as_atomic(img, path, image::ImageFormat::Png)
}

/// `img` encoded as `format`, written atomically ([`write_atomic`]).
fn save_as_atomic(img: &RgbImage, path: &Path, format: image::ImageFormat) -> std::io::Result<()> {
    let mut buf = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut buf), format)
        .map_err(std::io::Error::other)?;
    write_atomic(path, &buf)
}

/// The format a file named `path` is written in (its extension), or why none is.
pub fn writable_format(path: &Path) -> std::io::Result<image::ImageFormat> {
    image::ImageFormat::from_path(path)
        .ok()
        .filter(|f| f.writing_enabled())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{}: name the file .png, .jpg, .bmp, .tif or .webp (the extension chooses the format)",
                    path.display()
                ),
            )
        })
}

/// Writes `img` atomically in the format its extension names ([`writable_format`]); an
/// extension without an encoder here is refused before anything is written.
pub fn save_atomic(img: &RgbImage, path: &Path) -> std::io::Result<()> {
    save_as_atomic(img, path, writable_format(path)?)
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
    let bytes = read_bytes(path).map_err(|source| ImageLoadError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    decode(bytes, path)
}

/// The bytes of a file that may be an image: a regular file of at most [`MAX_FILE_BYTES`].
/// Checked before reading, because a named pipe would block the reader forever and a huge
/// (or sparse) file would be read whole before "not an image".
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a pipe, socket or device)"
        };
        return Err(Error::new(ErrorKind::InvalidInput, what));
    }
    let too_big = |len: u64| {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{} MiB, over the {} MiB limit for an image file",
                len >> 20,
                MAX_FILE_BYTES >> 20
            ),
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the check and the read: never read past the limit.
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
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
    // JPEG decoders fill a missing end with grey without a word; say what happened.
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(&bytes) {
        return Err(ImageLoadError::Decode {
            path: path.to_path_buf(),
            reason: "the file is truncated (its JPEG data stops before the end-of-image marker)"
                .into(),
        });
    }
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits());
    let failed = |e: image::ImageError| ImageLoadError::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut decoder = reader.into_decoder().map_err(failed)?;
    // The whole picture must fit the allocation cap (as `ImageReader::decode` checks).
    limits().reserve(decoder.total_bytes()).map_err(failed)?;
    // Phones store portraits sideways with an EXIF orientation: the face is upright only
    // once it is applied (an unknown orientation is taken as none).
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = image::DynamicImage::from_decoder(decoder).map_err(failed)?;
    image.apply_orientation(orientation);
    if image.width() == 0 || image.height() == 0 {
        return Err(ImageLoadError::Empty {
            path: path.to_path_buf(),
            width: image.width(),
            height: image.height(),
        });
    }
    Ok(image)
}

/// Whether JPEG `bytes` reach their end-of-image marker: the segments are walked by their
/// lengths and each scan's entropy-coded data up to its next marker (stuffed `FF 00` bytes
/// and restart markers belong to the data). Data after the marker (a phone's motion
/// photo) is allowed.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let mut i = 2; // after SOI
    loop {
        while i < n && bytes[i] != 0xff {
            i += 1;
        }
        while i < n && bytes[i] == 0xff {
            i += 1;
        }
        let Some(&marker) = bytes.get(i) else {
            return false;
        };
        i += 1;
        match marker {
            0xd9 => return true,
            0x01 | 0xd0..=0xd7 => continue,
            _ => {}
        }
        let Some(len) = bytes.get(i..i + 2) else {
            return false;
        };
        i += usize::from(u16::from_be_bytes([len[0], len[1]]));
        if marker == 0xda {
            // The scan's data: up to the first FF followed by a marker of its own.
            let in_data =
                |i: usize| bytes[i] != 0xff || matches!(bytes[i + 1], 0x00 | 0xd0..=0xd7 | 0xff);
            while i + 1 < n && in_data(i) {
                i += 1;
            }
        }
        if i >= n {
            return false;
        }
    }
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

    /// `jpeg` with an EXIF (APP1) segment holding only `orientation`, after its SOI.
    fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        // TIFF header (little endian), one IFD entry: tag 0x0112, SHORT, count 1.
        let mut tiff = b"II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00".to_vec();
        tiff.extend(orientation.to_le_bytes());
        tiff.extend([0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\x00\x00".to_vec();
        app1.extend(tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend([0xff, 0xe1]);
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_orientation_is_applied() {
        // An upright 60 x 40 picture, red on its left half, stored turned 90 degrees
        // counter-clockwise with orientation 6 ("rotate 90 clockwise to view").
        let upright = RgbImage::from_fn(60, 40, |x, _| {
            image::Rgb(if x < 30 { [220, 20, 20] } else { [20, 20, 220] })
        });
        let stored = image::imageops::rotate270(&upright);
        let mut jpeg = Vec::new();
        stored
            .write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portrait.jpg");
        std::fs::write(&path, with_orientation(&jpeg, 6)).unwrap();
        let loaded = load_rgb(&path).unwrap();
        assert_eq!(loaded.dimensions(), (60, 40));
        let [r, _, b] = loaded.get_pixel(10, 20).0;
        assert!(r > 150 && b < 100, "the left half is red again: {r} {b}");
        // Without the tag the stored (sideways) picture is what is read.
        std::fs::write(&path, &jpeg).unwrap();
        assert_eq!(load_rgb(&path).unwrap().dimensions(), (40, 60));
    }

    #[test]
    fn a_jpeg_cut_short_says_it_is_truncated() {
        let mut bytes = Vec::new();
        RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 90]))
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        assert!(jpeg_is_complete(&bytes));
        // Data after the end (a motion photo's video) is fine.
        let mut longer = bytes.clone();
        longer.extend(b"\x00\x00\x00\x18ftypmp42\xff\xda\x00");
        assert!(jpeg_is_complete(&longer));
        let dir = tempfile::tempdir().unwrap();
        for cut in [2, 40, bytes.len() / 2] {
            let path = dir.path().join(format!("cut{cut}.jpg"));
            std::fs::write(&path, &bytes[..bytes.len() - cut]).unwrap();
            let err = load_rgb(&path).unwrap_err().to_string();
            assert!(err.contains("truncated"), "{cut}: {err}");
        }
        // Every photo shipped with the app reads.
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces");
        for person in std::fs::read_dir(samples).unwrap() {
            let person = person.unwrap().path();
            if !person.is_dir() {
                continue;
            }
            for photo in std::fs::read_dir(person).unwrap() {
                let path = photo.unwrap().path();
                if path.extension().is_some_and(|e| e == "jpg") {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(jpeg_is_complete(&bytes), "{}", path.display());
                }
            }
        }
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

    #[cfg(unix)]
    #[test]
    fn pipes_folders_and_huge_files_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.jpg");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "mkfifo is needed for this test"
        );
        // Reading it would block forever (no writer): it must be refused first.
        let err = load_rgb(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let err = load_rgb(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a folder"), "{err}");
        // A sparse 3 GB "photo" costs no disk and must cost no memory either.
        let huge = dir.path().join("huge.jpg");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(3 << 30)
            .unwrap();
        let err = load_rgb(&huge).unwrap_err().to_string();
        assert!(err.contains("over the 512 MiB limit"), "{err}");
    }
}
