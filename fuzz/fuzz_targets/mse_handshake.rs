#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shoal::fuzzing::mse_handshake(data));
