use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npy")
        .join(name)
}

/// The value scripts/make_npy_fixtures.py wrote at each index.
fn expected(n: usize, t: usize, y: usize, x: usize, c: usize) -> u8 {
    ((n * 7 + t * 31 + y * 5 + x * 3 + c * 11) % 256) as u8
}

fn check_pattern(a: &TripletArray) {
    assert_eq!(a.0.shape(), &[2, 3, 4, 4, 3]);
    for ((n, t, y, x, c), v) in a.0.indexed_iter() {
        assert_eq!(*v, expected(n, t, y, x, c), "at {:?}", (n, t, y, x, c));
    }
}

#[test]
fn reads_arrays_written_by_numpy() {
    for name in [
        "triplets_u8.npy",
        "triplets_f32_unit.npy",
        "triplets_f32_255.npy",
        "triplets_f64_unit.npy",
        "fortran_order.npy",
    ] {
        let a = TripletArray::load(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_pattern(&a);
    }
}

#[test]
fn refuses_wrong_shapes_and_types_clearly() {
    let msg = |name: &str| TripletArray::load(&fixture(name)).unwrap_err().to_string();
    let m = msg("wrong_shape.npy");
    assert!(
        m.contains("shape [2, 3, 4, 4] is not (N, 3, S, S, 3)"),
        "{m}"
    );
    let m = msg("not_square.npy");
    assert!(m.contains("shape [1, 3, 4, 5, 3]"), "{m}");
    let m = msg("wrong_dtype.npy");
    assert!(
        m.contains("not supported (expected uint8, float32 or float64)"),
        "{m}"
    );
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.npy");
    std::fs::write(&junk, "not numpy").unwrap();
    let m = TripletArray::load(&junk).unwrap_err().to_string();
    assert!(m.contains("not a readable .npy file"), "{m}");
}

/// An `.npy` version 1.0 file: `descr`, `shape` and `data` bytes of data.
fn npy(descr: &str, shape: &str, data: usize) -> Vec<u8> {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + dict + newline, padded to 64 bytes.
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out.extend(std::iter::repeat_n(7u8, data));
    out
}

#[test]
fn a_header_is_checked_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let load = |name: &str, bytes: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        TripletArray::load(&path)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    // A tiny file declaring 900 GB (this aborted the process with a failed allocation).
    let m = load("huge.npy", npy("|u1", "(1000000, 3, 10000, 10000, 3)", 100));
    assert!(m.contains("larger than the 1024 px"), "{m}");
    let m = load("lying.npy", npy("|u1", "(100000, 3, 100, 100, 3)", 100));
    assert!(m.contains("file holds 100 bytes of data"), "{m}");
    let m = load(
        "overflow.npy",
        npy("<f8", "(18446744073709551615, 3, 4, 4, 3)", 8),
    );
    assert!(m.contains("file holds 8 bytes"), "{m}");
    // Other dimensions and element types are refused by name.
    let m = load("four.npy", npy("|u1", "(2, 3, 4, 4)", 96));
    assert!(
        m.contains("shape [2, 3, 4, 4] is not (N, 3, S, S, 3)"),
        "{m}"
    );
    let m = load("six.npy", npy("|u1", "(1, 3, 4, 4, 3, 1)", 144));
    assert!(m.contains("is not (N, 3, S, S, 3)"), "{m}");
    let m = load("short.npy", npy("<i2", "(1, 3, 4, 4, 3)", 288));
    assert!(m.contains("'<i2' is not supported"), "{m}");
    // The same header with the right amount of data loads.
    let path = dir.path().join("fine.npy");
    std::fs::write(&path, npy("|u1", "(2, 3, 4, 4, 3)", 288)).unwrap();
    assert_eq!(TripletArray::load(&path).unwrap().len(), 2);
}

#[test]
fn refuses_floats_outside_pixel_ranges() {
    let a = ArrayD::from_shape_vec(IxDyn(&[1]), vec![300.0]).unwrap();
    assert!(from_floats(a).unwrap_err().contains("0-1 or 0-255"));
    let a = ArrayD::from_shape_vec(IxDyn(&[1]), vec![f64::NAN]).unwrap();
    assert!(from_floats(a).unwrap_err().contains("NaN"));
}

#[test]
fn round_trips_through_npy_and_crops() {
    let a = TripletArray::load(&fixture("triplets_u8.npy")).unwrap();
    let crops: Vec<[RgbImage; 3]> = (0..a.len())
        .map(|i| [a.crop(i, 0), a.crop(i, 1), a.crop(i, 2)])
        .collect();
    assert_eq!(
        crops[1][2].get_pixel(3, 2).0,
        [
            expected(1, 2, 2, 3, 0),
            expected(1, 2, 2, 3, 1),
            expected(1, 2, 2, 3, 2)
        ]
    );
    let rebuilt = TripletArray::from_crops(&crops, 4);
    assert_eq!(rebuilt, a);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.npy");
    rebuilt.save(&path).unwrap();
    assert_eq!(TripletArray::load(&path).unwrap(), a);
    // The same data bytes as numpy's own file (C order) after the header.
    let ours = std::fs::read(&path).unwrap();
    let numpy = std::fs::read(fixture("triplets_u8.npy")).unwrap();
    assert_eq!(
        ours[ours.len() - a.0.len()..],
        numpy[numpy.len() - a.0.len()..]
    );
}

fn sample() -> Dataset {
    Dataset::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces")).unwrap()
}

#[test]
fn draws_valid_reproducible_triplets_from_the_given_identities_only() {
    let ds = sample();
    let train: BTreeSet<String> = ["Colin_Powell", "Hugo_Chavez", "Laura_Bush"]
        .map(String::from)
        .into();
    let t = draw(&ds, &train, 500, 7).unwrap();
    assert_eq!(t.len(), 500);
    assert_eq!(
        t,
        draw(&ds, &train, 500, 7).unwrap(),
        "same seed, same triplets"
    );
    assert_ne!(t, draw(&ds, &train, 500, 8).unwrap());
    let person = |p: &str| p.split('/').next().unwrap().to_string();
    for s in &t {
        assert_eq!(person(&s.anchor), person(&s.positive));
        assert_ne!(s.anchor, s.positive);
        assert_ne!(person(&s.anchor), person(&s.negative));
        for p in [&s.anchor, &s.positive, &s.negative] {
            assert!(train.contains(&person(p)), "{p} is not a training identity");
            assert!(ds.image_root.join(p).is_file());
        }
    }
    // Every training person shows up as an anchor and as a negative.
    for name in &train {
        assert!(t.iter().any(|s| person(&s.anchor) == *name));
        assert!(t.iter().any(|s| person(&s.negative) == *name));
    }
}

#[test]
fn too_few_identities_is_an_error() {
    let ds = sample();
    let one: BTreeSet<String> = ["Colin_Powell".to_string()].into();
    assert!(matches!(
        draw(&ds, &one, 10, 0),
        Err(TripletError::TooFew(_))
    ));
    let none = BTreeSet::new();
    assert!(matches!(
        draw(&ds, &none, 10, 0),
        Err(TripletError::TooFew(_))
    ));
}

#[test]
fn sidecars_record_typed_crop_settings_and_older_ones_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("t.npy");
    let settings = crate::preprocess::PreprocessSettings::default();
    let sidecar = Sidecar {
        dataset: "/data".into(),
        seed: 3,
        crops: RecordedCrops::Settings(settings),
        fallback_crops: vec![],
        triplets: vec![],
    };
    sidecar.save(&npy).unwrap();
    let back = Sidecar::load(&npy).unwrap();
    assert_eq!(back, sidecar);
    assert_eq!(back.settings(), Some(settings));
    // Before this version the crops were a folder key in words.
    let old = r#"{"dataset": "/data", "seed": 3, "crops": "mtcnn-min20-t0.6-0.7-0.7-f0.709_s100-m0.2_centre",
                  "fallback_crops": [], "triplets": []}"#;
    std::fs::write(sidecar_path(&npy), old).unwrap();
    let back = Sidecar::load(&npy).unwrap();
    assert!(matches!(back.crops, RecordedCrops::Described(_)));
    assert_eq!(back.settings(), None);
}
