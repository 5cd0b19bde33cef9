//! Which text encoding a CSV file is in, and a streaming reader that turns it into UTF-8.
//!
//! Decided from the first [`SAMPLE`] bytes: a byte-order mark wins (UTF-8, UTF-16 LE/BE as
//! Excel's "Unicode Text" writes them); UTF-16 without a mark is recognised by its zero
//! bytes; bytes that are valid UTF-8 are UTF-8; anything else goes to `chardetng` (for
//! German or French Excel exports that is Windows-1252). A UTF-8 file stays bytes, so that
//! invalid bytes later in it become a problem on their cell, not a replaced character.

use std::io::{Cursor, Read};

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use encoding_rs_io::DecodeReaderBytesBuilder;

/// How many bytes from the start of a file are used to detect its encoding and delimiter.
pub(crate) const SAMPLE: usize = 64 * 1024;

/// The encoding of a text file and the length of its byte-order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Detected {
    pub encoding: &'static Encoding,
    pub bom: usize,
}

/// Detects the encoding from the start of a file; `complete` says whether `sample` is the
/// whole file (then a sequence cut at its end is really invalid, not just cut).
pub(crate) fn detect(sample: &[u8], complete: bool) -> Detected {
    if let Some((encoding, bom)) = Encoding::for_bom(sample) {
        return Detected { encoding, bom };
    }
    if let Some(encoding) = utf16_without_bom(sample) {
        return Detected { encoding, bom: 0 };
    }
    let utf8 = mostly_utf8(sample, complete);
    if utf8 {
        return Detected {
            encoding: UTF_8,
            bom: 0,
        };
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, complete);
    Detected {
        encoding: detector.guess(None, chardetng::Utf8Detection::Deny),
        bom: 0,
    }
}

/// Whether the bytes are UTF-8, perhaps with a few invalid bytes in it: its non-ASCII
/// characters are mostly valid UTF-8 sequences. Windows-1252 text almost never forms
/// one (`Ã©`), so a file with `ü` in UTF-8 and one stray `\xFC` byte is UTF-8 with a
/// broken cell, while a file whose only non-ASCII bytes are invalid is Windows-1252.
fn mostly_utf8(sample: &[u8], complete: bool) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut chunks = sample.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        // A sequence cut at the end of an incomplete sample is not invalid.
        let cut = chunks.peek().is_none() && !complete;
        if !chunk.invalid().is_empty() && !cut {
            invalid += 1;
        }
    }
    invalid == 0 || valid > invalid
}

/// UTF-16 without a byte-order mark: most ASCII characters have a zero high byte, so one
/// of the two byte positions is nearly always zero and the other never is.
fn utf16_without_bom(sample: &[u8]) -> Option<&'static Encoding> {
    let head = &sample[..sample.len().min(4096) & !1];
    if head.len() < 8 {
        return None;
    }
    let pairs = head.len() / 2;
    let zeros_at = |offset: usize| {
        head.iter()
            .skip(offset)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let (even, odd) = (zeros_at(0), zeros_at(1));
    if odd * 10 >= pairs * 7 && even == 0 {
        Some(UTF_16LE)
    } else if even * 10 >= pairs * 7 && odd == 0 {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// The sample as text (lossy), for sniffing the delimiter.
pub(crate) fn decode_sample(sample: &[u8], detected: Detected) -> String {
    let body = sample.get(detected.bom..).unwrap_or_default();
    let (text, _) = detected.encoding.decode_without_bom_handling(body);
    text.into_owned()
}

/// The whole file as UTF-8 bytes: `sample` (the bytes already read) then `rest`. UTF-8 is
/// passed through unchanged (minus its mark); other encodings are transcoded as they stream.
pub(crate) fn utf8_reader(
    sample: Vec<u8>,
    rest: impl Read + Send + 'static,
    detected: Detected,
) -> Box<dyn Read + Send> {
    let mut head = Cursor::new(sample);
    head.set_position(detected.bom as u64);
    let whole = head.chain(rest);
    if detected.encoding == UTF_8 {
        Box::new(whole)
    } else {
        Box::new(
            DecodeReaderBytesBuilder::new()
                .encoding(Some(detected.encoding))
                .bom_sniffing(false)
                .build(whole),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::WINDOWS_1252;

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    fn utf16be(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
    }

    #[test]
    fn encodings_are_detected() {
        let text = "Vorname;Nachname;E-Mail\nJürgen;Müller;j@x.at\n";
        let with_bom = |bom: &[u8], body: Vec<u8>| [bom.to_vec(), body].concat();
        let (cp1252, _, _) = WINDOWS_1252.encode(text);
        let french = WINDOWS_1252
            .encode("Prénom;Nom;Société\nHélène;Lefèvre;Crédit agricole\nFrançois;Gaëtan;Mairie de Besançon\n")
            .0;
        let cases: Vec<(&str, Vec<u8>, &'static Encoding, usize)> = vec![
            ("utf-8", text.as_bytes().to_vec(), UTF_8, 0),
            (
                "utf-8 with bom",
                with_bom(b"\xEF\xBB\xBF", text.as_bytes().to_vec()),
                UTF_8,
                3,
            ),
            (
                "utf-16le bom",
                with_bom(b"\xFF\xFE", utf16le(text)),
                UTF_16LE,
                2,
            ),
            (
                "utf-16be bom",
                with_bom(b"\xFE\xFF", utf16be(text)),
                UTF_16BE,
                2,
            ),
            ("utf-16le no bom", utf16le(text), UTF_16LE, 0),
            ("utf-16be no bom", utf16be(text), UTF_16BE, 0),
            ("windows-1252 german", cp1252.to_vec(), WINDOWS_1252, 0),
            ("windows-1252 french", french.to_vec(), WINDOWS_1252, 0),
            ("empty", vec![], UTF_8, 0),
            (
                "utf-8 with one stray byte",
                b"name;city\nM\xc3\xbcller;W\xc3\xb6rgl\nJ\xfcrgen;Graz\n".to_vec(),
                UTF_8,
                0,
            ),
        ];
        for (name, bytes, encoding, bom) in cases {
            assert_eq!(detect(&bytes, true), Detected { encoding, bom }, "{name}");
        }
    }

    #[test]
    fn a_character_cut_at_the_sample_end_is_still_utf8() {
        let bytes = "Jürgen".as_bytes();
        let cut = &bytes[..2]; // "J" and the first byte of "ü"
        assert_eq!(detect(cut, false).encoding, UTF_8);
        assert_ne!(detect(cut, true).encoding, UTF_8);
    }

    #[test]
    fn readers_give_utf8() {
        let text = "Name\tTelefon\nJürgen\t0664\n";
        for bytes in [
            [b"\xFF\xFE".to_vec(), utf16le(text)].concat(),
            [b"\xFE\xFF".to_vec(), utf16be(text)].concat(),
            [b"\xEF\xBB\xBF".to_vec(), text.as_bytes().to_vec()].concat(),
            WINDOWS_1252.encode(text).0.to_vec(),
        ] {
            let detected = detect(&bytes, true);
            // Split the input so that transcoding has to cross the sample boundary.
            let (head, tail) = bytes.split_at(5);
            let mut out = String::new();
            utf8_reader(head.to_vec(), Cursor::new(tail.to_vec()), detected)
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, text, "{detected:?}");
            assert_eq!(decode_sample(&bytes, detected), text);
        }
    }
}
