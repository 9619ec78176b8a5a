//! A seeded mutation suite over everything that reads a user's files: the LFW list parsers,
//! the triplet `.npy` reader, `model.json` loading and image decoding. Each target gets
//! 2,000 inputs made by mutating valid ones (bit flips, cut and repeated ranges, inserted
//! bytes, byte-order marks, numbers too large for any type, shapes and sizes from nowhere).
//! Every input must end in `Ok` or an error: no panic (caught and counted here), no abort
//! (it would end this process), and bounded memory: the process's peak resident size stays
//! under [`PEAK_LIMIT`] (the readers cap what a header can ask for: images 16,384 px a side
//! and 1 GiB decoded, files 512 MiB, triplet crops 1,024 px and never more than the file
//! holds). The seed is fixed, so a failure replays; the failing input is written to
//! `target/fuzz-failures/` to look at.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use image::GenericImageView;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use siamese_face::{dataset, imageio, model, triplets};

/// Inputs per target.
const CASES: usize = 2000;
/// The peak resident size this test process may reach (all targets together).
const PEAK_LIMIT: u64 = 3 << 29;

/// Strings that break parsers: huge and negative numbers, separators, a BOM, NaN.
const TOKENS: &[&[u8]] = &[
    b"18446744073709551616",
    b"18446744073709551615",
    b"99999999999999999999999",
    b"-1",
    b"0",
    b"4294967296",
    b"1e39",
    b"NaN",
    b"\t",
    b"\n",
    b",",
    b"\r\n",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00",
    b"'",
    b"(",
    b")",
    b"{",
    b"}",
    b"\"",
    b"[]",
    b"null",
];

/// One to four random changes to `seed`.
fn mutate(seed: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = |rng: &mut ChaCha8Rng, b: &Vec<u8>| rng.random_range(0..=b.len());
        match rng.random_range(0..8) {
            0 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] = [0x00, 0xff, 0x7f, 0x80, b'9', b' '][rng.random_range(0..6)];
            }
            2 => {
                let i = at(rng, &b);
                let j = (i + rng.random_range(0..64)).min(b.len());
                b.drain(i..j);
            }
            3 => {
                let i = at(rng, &b);
                let j = (i + rng.random_range(0..64)).min(b.len());
                let copy = b[i..j].to_vec();
                let k = at(rng, &b);
                b.splice(k..k, copy);
            }
            4 => {
                let i = at(rng, &b);
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                b.splice(i..i, token.iter().copied());
            }
            5 => {
                let keep = at(rng, &b);
                b.truncate(keep);
            }
            6 => {
                // A run of digits becomes a number from TOKENS.
                let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
                if let Some(&i) = digits.get(rng.random_range(0..digits.len().max(1))) {
                    let j = (i..b.len())
                        .find(|&j| !b[j].is_ascii_digit())
                        .unwrap_or(b.len());
                    let token = TOKENS[rng.random_range(0..7)];
                    b.splice(i..j, token.iter().copied());
                }
            }
            _ => {
                let i = at(rng, &b);
                let noise: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                b.splice(i..i, noise);
            }
        }
    }
    b
}

/// Runs `check` on `CASES` mutations of the seeds; fails naming the inputs that panicked.
fn fuzz(name: &str, seeds: &[Vec<u8>], mut check: impl FnMut(&[u8]) -> Result<(), String>) {
    // One stream per target (FNV-1a of its name), the same on every run.
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut ok, mut errors, mut panics) = (0, 0, Vec::new());
    // The first seed is a valid file: it must read (the others may be bad on purpose).
    assert!(
        check(&seeds[0]).is_ok(),
        "{name}: the valid seed is refused: {:?}",
        check(&seeds[0])
    );
    for case in 0..CASES {
        let input = mutate(&seeds[case % seeds.len()], &mut rng);
        match catch_unwind(AssertUnwindSafe(|| check(&input))) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(message)) => {
                assert!(!message.trim().is_empty(), "{name}: an empty error message");
                errors += 1;
            }
            Err(_) => {
                let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../fuzz-failures");
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("{name}-{case}"));
                let _ = std::fs::write(&file, &input);
                panics.push(file);
            }
        }
    }
    let peak = peak_rss();
    eprintln!(
        "{name}: {CASES} mutated inputs: {ok} read, {errors} refused with an error; peak memory {} MiB",
        peak >> 20
    );
    assert!(panics.is_empty(), "{name}: panics on {panics:?}");
    assert!(peak < PEAK_LIMIT, "{name}: peak memory {} MiB", peak >> 20);
}

/// The process's peak resident size in bytes (0 where /proc is not there).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn list_parsers_take_any_text() {
    let pairs_txt = "2\t2\nAbe\t1\t2\nBea\t1\t3\nAbe\t1\tBea\t2\nBea\t2\tAbe\t1\n\
                     Abe\t2\t3\nBea\t2\t3\nAbe\t3\tBea\t1\nBea\t3\tAbe\t2\n";
    let pairs_csv = "name,imagenum1,imagenum2,\nAbe,1,2,\nAbe,1,Bea,2\nBea,1,2,\n";
    let people_txt = "2\n2\nAbe\t3\nBea\t4\n1\nCid\t2\n";
    let people_csv = "name,images\nAbe,3\nBea,4\n";
    let seeds: Vec<Vec<u8>> = [pairs_txt, pairs_csv, people_txt, people_csv]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    // The parsers see text (lossily decoded here); the files' bytes go through load below.
    fuzz("list-parsers", &seeds, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let (pairs, _) = dataset::parse_txt("pairs", &text);
        let (csv, _) = dataset::parse_csv("pairs", &[&text, &text]);
        let (people, _) = dataset::parse_people_txt("people", &text);
        let (people_csv, _) = dataset::parse_people_csv("people", &text);
        // Every parse is usable: folds in range, counts that add up.
        for list in [&pairs, &csv] {
            assert!(list.pairs.iter().all(|p| p.fold < list.folds.max(1)));
            assert_eq!(list.matched() + list.mismatched(), list.pairs.len());
        }
        let _ = (people.len(), people_csv.len());
        Ok(())
    });
    let dir = tempfile::tempdir().unwrap();
    for (name, seed) in [("pairs.txt", pairs_txt), ("pairs.csv", pairs_csv)] {
        let path = dir.path().join(name);
        fuzz(
            &format!("list-file-{name}"),
            &[seed.as_bytes().to_vec()],
            |bytes| {
                std::fs::write(&path, bytes).unwrap();
                dataset::PairList::load(&path)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        );
    }
}

#[test]
fn the_triplet_reader_takes_any_npy() {
    let crops: Vec<[image::RgbImage; 3]> = (0..3)
        .map(|i| {
            [0, 1, 2].map(|k| {
                image::RgbImage::from_fn(8, 8, |x, y| {
                    image::Rgb([x as u8 * 30, y as u8 * 30, (i * 3 + k) as u8])
                })
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("seed.npy");
    triplets::TripletArray::from_crops(&crops, 8)
        .save(&seed_path)
        .unwrap();
    let seed = std::fs::read(&seed_path).unwrap();
    // Headers that ask for too much, and other element types.
    let mut seeds = vec![seed.clone()];
    let header_end = seed.iter().position(|&b| b == b'\n').unwrap() + 1;
    for (from, to) in [
        ("(3, 3, 8, 8, 3)", "(3, 3, 100000, 100000, 3)"),
        ("(3, 3, 8, 8, 3)", "(1000000000, 3, 8, 8, 3)"),
        ("(3, 3, 8, 8, 3)", "(3, 3, 8, 8)"),
        ("'|u1'", "'<f4'"),
        ("'|u1'", "'<i2'"),
        ("False", "True"),
    ] {
        let header = String::from_utf8_lossy(&seed[..header_end]).replace(from, to);
        let mut changed = header.into_bytes();
        changed.extend(&seed[header_end..]);
        seeds.push(changed);
    }
    let path = dir.path().join("t.npy");
    fuzz("npy", &seeds, |bytes| {
        std::fs::write(&path, bytes).unwrap();
        let array = triplets::TripletArray::load(&path).map_err(|e| e.to_string())?;
        // A triplet array that loads is whole: every crop can be read.
        for i in 0..array.len() {
            let _ = array.crop(i, 2);
        }
        Ok(())
    });
}

#[test]
fn model_json_loading_takes_any_json() {
    let seed = std::fs::read(repo("weights/default-model/model.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fuzz("model-json", &[seed], |bytes| {
        std::fs::write(dir.path().join("model.json"), bytes).unwrap();
        let meta = model::read_meta(dir.path()).map_err(|e| e.to_string())?;
        // What loads is usable: a threshold that is a cosine, a sane input size.
        assert!(meta.threshold.is_none_or(|t| (-1.0..=1.0).contains(&t)));
        assert!((1..=1024).contains(&meta.input_size));
        Ok(())
    });
}

#[test]
fn image_loading_takes_any_bytes() {
    let photo = repo("assets/sample-faces/Laura_Bush/Laura_Bush_0001.jpg");
    let jpeg = std::fs::read(&photo).unwrap();
    let small = imageio::load_rgb(&photo)
        .unwrap()
        .view(60, 60, 64, 64)
        .to_image();
    let mut seeds = vec![jpeg];
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Bmp,
        image::ImageFormat::Gif,
        image::ImageFormat::Tiff,
        image::ImageFormat::WebP,
        image::ImageFormat::Pnm,
    ] {
        let mut bytes = Vec::new();
        small
            .write_to(&mut std::io::Cursor::new(&mut bytes), format)
            .unwrap();
        seeds.push(bytes);
    }
    let name = Path::new("fuzzed.jpg");
    fuzz("images", &seeds, |bytes| {
        let img = imageio::decode_rgb(bytes.to_vec(), name).map_err(|e| e.to_string())?;
        assert!(img.width() > 0 && img.height() > 0);
        assert!(img.width() <= imageio::MAX_SIDE && img.height() <= imageio::MAX_SIDE);
        Ok(())
    });
}
