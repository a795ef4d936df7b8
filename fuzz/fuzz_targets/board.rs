//! Any script of requests: replicas agree with the server's board.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    whiteboard::fuzzing::board(bytes);
});
