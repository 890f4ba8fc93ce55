//! Object names: what a path may be. Normalised to Unicode NFC so two spellings of one name
//! are one object; no empty, `.` or `..` segments, no leading `/`, no NUL or control characters.

use unicode_normalization::UnicodeNormalization;

use crate::errors;

pub fn object_name(name: &str) -> String {
    let name: String = name.nfc().collect();
    if name.is_empty() || name.len() > 1024 {
        errors::invalid("object name must be 1 to 1024 bytes");
    }
    if name.chars().any(char::is_control) {
        errors::invalid("object name must not contain control characters");
    }
    if name.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..") {
        errors::invalid("object name must be a relative path without empty, '.' or '..' segments");
    }
    name
}
