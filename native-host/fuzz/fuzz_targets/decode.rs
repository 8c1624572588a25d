//! Fuzz target: the frame reader and request decoder, fed arbitrary stdin bytes exactly as the host loop reads them.

#![no_main]

use std::io::Cursor;

use gatehouse_host::approvals::check_shape;
use gatehouse_host::audit::{prepare, Stamp};
use gatehouse_host::frame::{read_frame, skip_body, FrameError};
use gatehouse_host::protocol::{decode_request, error_reply, ok_reply, RequestKind};
use libfuzzer_sys::fuzz_target;

fn decode(body: &[u8]) {
    match decode_request(body) {
        Ok(request) => {
            // The parts of handling that are pure: token shape, audit privacy, reply encoding.
            match &request.kind {
                RequestKind::ImportApproval { token } => {
                    let _ = check_shape(token.trim());
                }
                RequestKind::Audit { events } => {
                    for event in events {
                        let record = prepare(event, &Stamp::default(), "t");
                        assert!(record.contains_key("ts"));
                    }
                }
                _ => {}
            }
            let _ = ok_reply(&request.id, serde_json::Value::Null).to_string();
        }
        Err(e) => {
            // Every decode error echoes a string, a number or null, never anything else.
            assert!(e.id.is_null() || e.id.is_string() || e.id.is_number());
            let _ = error_reply(&e.id, &e.error).to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The body decoder on its own…
    decode(data);
    // …and the same bytes as a stream of frames, with a small cap so over-cap skipping is hit.
    let mut stream = Cursor::new(data);
    loop {
        match read_frame(&mut stream, 4096) {
            Ok(Some(body)) => decode(&body),
            Ok(None) => break,
            Err(FrameError::TooLarge { len, .. }) => {
                if skip_body(&mut stream, len).is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
});
