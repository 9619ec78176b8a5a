//! Thumbnails decoded on worker threads and uploaded as textures when they arrive: of whole
//! photos, or of one face of a photo (its box with some context).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui;

/// Side of the decoded thumbnails, in pixels; lists draw them smaller.
const SIZE: u32 = 112;
/// Textures kept before the least recently drawn are dropped (~50 KB each).
const CAPACITY: usize = 1500;
const WORKERS: usize = 2;

pub enum Thumb<'a> {
    Ready(&'a egui::TextureHandle),
    Pending,
    Failed(&'a str),
}

enum State {
    Pending,
    Ready(egui::TextureHandle),
    Failed(String),
}

struct Entry {
    state: State,
    last_used: u64,
}

/// A photo, and the face box (`[x1, y1, x2, y2]` in whole pixels) when only that face is shown.
type Key = (PathBuf, Option<[i32; 4]>);
type Decoded = (Key, Result<egui::ColorImage, String>);

pub struct Thumbnails {
    cache: HashMap<Key, Entry>,
    jobs: Sender<Key>,
    done: Receiver<Decoded>,
    frame: u64,
}

impl Thumbnails {
    pub fn new(ctx: &egui::Context) -> Self {
        let (jobs, job_rx) = unbounded::<Key>();
        let (done_tx, done) = unbounded::<Decoded>();
        for i in 0..WORKERS {
            let job_rx = job_rx.clone();
            let done_tx = done_tx.clone();
            let ctx = ctx.clone();
            std::thread::Builder::new()
                .name(format!("thumbnails-{i}"))
                .spawn(move || {
                    // Ends when the app drops its sender.
                    for key in job_rx {
                        let image = decode(&key)
                            .map(|img| {
                                let size = [img.width() as usize, img.height() as usize];
                                egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw())
                            })
                            .map_err(|e| e.to_string());
                        if done_tx.send((key, image)).is_err() {
                            break;
                        }
                        ctx.request_repaint();
                    }
                })
                .expect("spawning a thread");
        }
        Thumbnails {
            cache: HashMap::new(),
            jobs,
            done,
            frame: 0,
        }
    }

    /// The thumbnail of `path`, queueing its decoding the first time it is asked for.
    pub fn get(&mut self, path: &Path) -> Thumb<'_> {
        self.get_key((path.to_path_buf(), None))
    }

    /// The thumbnail of the face `bbox` of the photo `path`.
    pub fn get_face(&mut self, path: &Path, bbox: [f32; 4]) -> Thumb<'_> {
        self.get_key((path.to_path_buf(), Some(bbox.map(|v| v.round() as i32))))
    }

    fn get_key(&mut self, key: Key) -> Thumb<'_> {
        let frame = self.frame;
        let entry = self.cache.entry(key.clone()).or_insert_with(|| {
            let _ = self.jobs.send(key);
            Entry {
                state: State::Pending,
                last_used: frame,
            }
        });
        entry.last_used = frame;
        match &entry.state {
            State::Pending => Thumb::Pending,
            State::Ready(texture) => Thumb::Ready(texture),
            State::Failed(e) => Thumb::Failed(e),
        }
    }

    /// Uploads what the workers finished; call once per frame.
    pub fn poll(&mut self, ctx: &egui::Context) {
        self.frame += 1;
        for (key, result) in self.done.try_iter() {
            let state = match result {
                Ok(image) => State::Ready(ctx.load_texture(
                    format!("thumb:{}:{:?}", key.0.display(), key.1),
                    image,
                    egui::TextureOptions::LINEAR,
                )),
                Err(e) => State::Failed(e),
            };
            if let Some(entry) = self.cache.get_mut(&key) {
                entry.state = state;
            }
        }
        if self.cache.len() > CAPACITY {
            // Drop the least recently drawn finished entries (pending ones are still queued).
            let mut finished: Vec<(u64, Key)> = self
                .cache
                .iter()
                .filter(|(_, e)| !matches!(e.state, State::Pending))
                .map(|(p, e)| (e.last_used, p.clone()))
                .collect();
            finished.sort();
            let excess = self.cache.len() - CAPACITY * 3 / 4;
            for (_, key) in finished.into_iter().take(excess) {
                self.cache.remove(&key);
            }
        }
    }

    pub fn pending(&self) -> usize {
        self.cache
            .values()
            .filter(|e| matches!(e.state, State::Pending))
            .count()
    }

    #[cfg(test)]
    pub fn ready(&self) -> usize {
        self.cache
            .values()
            .filter(|e| matches!(e.state, State::Ready(_)))
            .count()
    }
}

/// A photo's thumbnail, or its face's: the box grown by half its size (context around the
/// face, as people-grid covers show it), clamped to the photo.
fn decode(key: &Key) -> Result<image::RgbaImage, siamese_face::imageio::ImageLoadError> {
    let Some([x1, y1, x2, y2]) = key.1 else {
        return siamese_face::imageio::thumbnail(&key.0, SIZE);
    };
    let img = siamese_face::imageio::load_rgba(&key.0)?;
    let (w, h) = (img.width() as i32, img.height() as i32);
    let pad = ((x2 - x1).max(y2 - y1) / 4).max(1);
    let (l, t) = ((x1 - pad).clamp(0, w - 1), (y1 - pad).clamp(0, h - 1));
    let (r, b) = ((x2 + pad).clamp(l + 1, w), (y2 + pad).clamp(t + 1, h));
    let face = image::imageops::crop_imm(&img, l as u32, t as u32, (r - l) as u32, (b - t) as u32);
    Ok(image::DynamicImage::ImageRgba8(face.to_image())
        .thumbnail(SIZE, SIZE)
        .into_rgba8())
}
