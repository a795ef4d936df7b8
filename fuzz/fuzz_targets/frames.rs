//! Any bytes, through every frame decoder and the validation: no panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| whiteboard::fuzzing::frames(bytes));
