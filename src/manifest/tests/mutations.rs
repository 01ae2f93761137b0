//! Random damage to a realistic manifest must give diagnostics, never a panic.
//!
//! A seeded loop (so a failure is reproducible) applies byte flips, deletions, insertions of
//! YAML punctuation, truncations and duplicated lines, then loads and renders the result.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::manifest::{load_inputs, Input, LoadOptions};

const CASES: u64 = 2_000;
/// A hash in the example; whenever it survives intact, diagnostics must mask it.
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$eEi11xG8mIOZYxej+ckCaQ$eBeygPqiuImQAaFQOkE6oVkPfqxIGgnqpQd/MwW4YX4";
const PUNCTUATION: &[&[u8]] = &[
    b":",
    b"-",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"?",
    b"&a ",
    b"*a",
    b"!",
    b"!!str ",
    b"|",
    b">",
    b"'",
    b"\"",
    b"#",
    b"%",
    b"@",
    b"`",
    b"\t",
    b"\n",
    b"  ",
    b"---\n",
    b"...\n",
    b"\\",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\x94",
    b"~",
    b"<<: ",
    b"0x",
    b"1e9999",
    b"-1",
];

fn mutate(original: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let at = rng.gen_range(0..=bytes.len());
        match rng.gen_range(0..6) {
            0 if at < bytes.len() => bytes[at] ^= 1 << rng.gen_range(0..8),
            1 if at < bytes.len() => {
                let end = (at + rng.gen_range(1..40)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => {
                let insert = PUNCTUATION[rng.gen_range(0..PUNCTUATION.len())];
                bytes.splice(at..at, insert.iter().copied());
            }
            3 => bytes.truncate(at),
            4 => {
                let start = bytes[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let end = bytes[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| at + p + 1);
                let line = bytes[start..end].to_vec();
                bytes.splice(end..end, line);
            }
            _ => {
                let indent = b"  ".repeat(rng.gen_range(1..4));
                bytes.splice(at..at, indent);
            }
        }
    }
    bytes
}

#[test]
fn random_damage_never_panics() {
    let original = std::fs::read("examples/realistic.yaml").expect("example exists");
    let mut rng = ChaCha8Rng::seed_from_u64(0x6d61_7363_746c);
    let started = std::time::Instant::now();
    let mut rejected = 0;
    for case in 0..CASES {
        let bytes = mutate(&original, &mut rng);
        let input = Input {
            name: format!("case-{case}.yaml"),
            base: "examples".into(),
            bytes,
        };
        let result =
            std::panic::catch_unwind(|| load_inputs(vec![Ok(input)], &LoadOptions::default()));
        let Ok(result) = result else {
            panic!("case {case} panicked");
        };
        if let Err(error) = result {
            rejected += 1;
            // Rendering reads every span back from the text: it must not fail either.
            let rendered = super::render(&error);
            assert!(rendered.contains("problem"), "case {case}:\n{rendered}");
            assert!(
                !rendered.contains(HASH),
                "case {case} leaks a hash:\n{rendered}"
            );
        }
    }
    assert!(
        rejected > CASES / 2,
        "mutations should mostly break the file ({rejected} rejected)"
    );
    assert!(
        started.elapsed().as_secs() < 120,
        "took {:?}",
        started.elapsed()
    );
}
