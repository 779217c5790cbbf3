//! The text-form parser and writer on arbitrary text: parsing never panics,
//! and whatever parses converts to binary and back to the same text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use trace_wire::text::{bytes_to_text, text_to_bytes, GoRelease};
    use trace_wire::SizeEncoding;
    let Ok(binary) = text_to_bytes(data, SizeEncoding::Minimal) else {
        return;
    };
    // Each release reads a different subset of what the parser accepts.
    for release in GoRelease::ALL {
        let mut text = Vec::new();
        if bytes_to_text(&binary, release, true, &mut text).is_ok() {
            let again = text_to_bytes(&text, SizeEncoding::Minimal).expect("our own text parses");
            assert_eq!(
                again, binary,
                "text -> binary -> text -> binary changed the bytes"
            );
        }
    }
});
