//! Thumbnails decoded on worker threads and uploaded as textures when they arrive.

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

type Decoded = (PathBuf, Result<egui::ColorImage, String>);

pub struct Thumbnails {
    cache: HashMap<PathBuf, Entry>,
    jobs: Sender<PathBuf>,
    done: Receiver<Decoded>,
    frame: u64,
}

impl Thumbnails {
    pub fn new(ctx: &egui::Context) -> Self {
        let (jobs, job_rx) = unbounded::<PathBuf>();
        let (done_tx, done) = unbounded::<Decoded>();
        for i in 0..WORKERS {
            let job_rx = job_rx.clone();
            let done_tx = done_tx.clone();
            let ctx = ctx.clone();
            std::thread::Builder::new()
                .name(format!("thumbnails-{i}"))
                .spawn(move || {
                    // Ends when the app drops its sender.
                    for path in job_rx {
                        let image = siamese_face::imageio::thumbnail(&path, SIZE)
                            .map(|img| {
                                let size = [img.width() as usize, img.height() as usize];
                                egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw())
                            })
                            .map_err(|e| e.to_string());
                        if done_tx.send((path, image)).is_err() {
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
        let frame = self.frame;
        let entry = self.cache.entry(path.to_path_buf()).or_insert_with(|| {
            let _ = self.jobs.send(path.to_path_buf());
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
        for (path, result) in self.done.try_iter() {
            let state = match result {
                Ok(image) => State::Ready(ctx.load_texture(
                    format!("thumb:{}", path.display()),
                    image,
                    egui::TextureOptions::LINEAR,
                )),
                Err(e) => State::Failed(e),
            };
            if let Some(entry) = self.cache.get_mut(&path) {
                entry.state = state;
            }
        }
        if self.cache.len() > CAPACITY {
            // Drop the least recently drawn finished entries (pending ones are still queued).
            let mut finished: Vec<(u64, PathBuf)> = self
                .cache
                .iter()
                .filter(|(_, e)| !matches!(e.state, State::Pending))
                .map(|(p, e)| (e.last_used, p.clone()))
                .collect();
            finished.sort();
            let excess = self.cache.len() - CAPACITY * 3 / 4;
            for (_, path) in finished.into_iter().take(excess) {
                self.cache.remove(&path);
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
