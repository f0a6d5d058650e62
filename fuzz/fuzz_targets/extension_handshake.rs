#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shoal::fuzzing::extension_handshake(data));
