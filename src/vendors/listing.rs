//! Reading a platform's listings within bounds (issue 25 item 4) and in compact form
//! (issue 30), the same way for every connector:
//!
//! - [`Pages`]: the budget of a paginated listing (Motive, Pegasus): at most the target's
//!   `max_pages` pages and `max_listing` bytes over all of them, each page at most
//!   `max_body`; a page that lists only ids earlier pages listed (a platform ignoring the
//!   page number) stops the listing with an error instead of looping.
//! - [`Streamed`]: a listing that comes as one JSON list in one reply (Traccar's
//!   `GET /users` and `/devices`, DRTrack's `GET /users`), parsed item by item as the body
//!   arrives, within `max_listing`: only what the connector keeps of each item stays in
//!   memory, never the reply's text or a `serde_json::Value` of it.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::{Target, show_size};
use crate::http::{Cap, Request, Sink};

use super::VendorError;

/// The budget of one paginated listing: pages, bytes, and the ids seen so far.
#[derive(Debug)]
pub struct Pages {
    /// `GET /users`, for messages.
    what: String,
    target: String,
    max_pages: u64,
    max_listing: u64,
    max_body: u64,
    /// Pages asked for so far.
    pages: u64,
    /// Bytes of the pages read so far.
    bytes: u64,
    /// Hashes of the ids listed so far (8 bytes an item, not the ids' text).
    seen: HashSet<u64>,
    hasher: RandomState,
}

impl Pages {
    /// The budget of listing `what` (`GET /users`) on `target`.
    pub fn new(target: &Target, what: &str) -> Pages {
        Pages {
            what: what.to_string(),
            target: target.name.clone(),
            max_pages: target.max_pages,
            max_listing: target.max_listing,
            max_body: target.max_body,
            pages: 0,
            bytes: 0,
            seen: HashSet::new(),
            hasher: RandomState::new(),
        }
    }

    /// The number of the next page (from 1); an error naming the listing and the budget
    /// when `max_pages` pages were read and the platform still says there are more.
    pub fn next_page(&mut self) -> Result<u64, VendorError> {
        if self.pages >= self.max_pages {
            return Err(VendorError::Protocol(format!(
                "{}: still more after {} pages, the most one listing reads (max_pages = {} on target {}); the platform may be ignoring paging, else raise max_pages",
                self.what, self.pages, self.max_pages, self.target
            )));
        }
        self.pages += 1;
        Ok(self.pages)
    }

    /// The cap on the next page's reply: `max_body`, or what is left of `max_listing` when
    /// that is less.
    pub fn cap(&self) -> Cap {
        let left = self.max_listing.saturating_sub(self.bytes);
        if self.max_body <= left {
            return Cap {
                bytes: self.max_body,
                name: format!("max_body = {}", show_size(self.max_body)),
            };
        }
        Cap {
            bytes: left,
            name: format!(
                "what is left of max_listing = {} (the most one listing reads, on target {}) after {} pages",
                show_size(self.max_listing),
                self.target,
                self.pages.saturating_sub(1)
            ),
        }
    }

    /// Counts the page just read: its size and its items' ids. A page with items, none of
    /// them new, is an error: the platform is answering the same page again.
    pub fn read<I: Hash>(
        &mut self,
        bytes: usize,
        ids: impl IntoIterator<Item = I>,
    ) -> Result<(), VendorError> {
        self.bytes = self.bytes.saturating_add(bytes as u64);
        let mut items = 0usize;
        let mut new = 0usize;
        for id in ids {
            items += 1;
            if self.seen.insert(self.hasher.hash_one(id)) {
                new += 1;
            }
        }
        if items > 0 && new == 0 {
            return Err(VendorError::Protocol(format!(
                "{}: page {} lists only ids earlier pages listed: the platform ignores the page asked for; listing stopped after {} pages",
                self.what, self.pages, self.pages
            )));
        }
        Ok(())
    }
}

/// What a connector keeps of one item of a list (`None`: the item is skipped), from the
/// item's JSON text; `Err` when the text is not JSON at all.
pub type ReadItem<U> = Box<dyn FnMut(&[u8]) -> Result<Option<U>, String> + Send>;

/// A listing that comes as one JSON list in one reply, parsed item by item as it arrives.
pub struct Streamed<U: Send + 'static> {
    sink: Arc<Mutex<Items<U>>>,
    max_listing: u64,
    target: String,
}

impl<U: Send + 'static> Streamed<U> {
    /// A listing of `target` whose items `read` turns into what is kept.
    pub fn new(target: &Target, read: ReadItem<U>) -> Streamed<U> {
        Streamed {
            sink: Arc::new(Mutex::new(Items {
                split: Split::default(),
                read,
                items: Vec::new(),
                max_item: usize::try_from(target.max_body).unwrap_or(usize::MAX),
                error: None,
            })),
            max_listing: target.max_listing,
            target: target.name.clone(),
        }
    }

    /// `req` with its 2xx body going to this listing, capped at `max_listing`.
    pub fn request(&self, req: Request) -> Request {
        req.capped(Cap {
            bytes: self.max_listing,
            name: format!(
                "max_listing = {} (the most one listing reads, on target {})",
                show_size(self.max_listing),
                self.target
            ),
        })
        .streamed_into(self.sink.clone())
    }

    /// What was kept of the items, once a 2xx reply was read; an error naming `what` when
    /// the body was not a whole JSON list.
    pub fn items(self, what: &str) -> Result<Vec<U>, VendorError> {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = sink.error.take() {
            return Err(VendorError::Protocol(format!("{what}: {e}")));
        }
        if sink.split.state != State::Done {
            return Err(VendorError::Protocol(format!(
                "{what}: the reply is not a whole JSON list ({})",
                if sink.split.state == State::Before {
                    "no list"
                } else {
                    "it ends early"
                }
            )));
        }
        Ok(std::mem::take(&mut sink.items))
    }
}

/// The sink a [`Streamed`] listing's body goes to.
struct Items<U> {
    split: Split,
    read: ReadItem<U>,
    items: Vec<U>,
    /// The most bytes one item may take (`max_body`).
    max_item: usize,
    error: Option<String>,
}

impl<U: Send> Sink for Items<U> {
    fn start(&mut self) {
        self.split = Split::default();
        self.items.clear();
        self.error = None;
    }

    fn feed(&mut self, chunk: &[u8]) -> bool {
        let (read, items) = (&mut self.read, &mut self.items);
        let fed = self.split.feed(chunk, self.max_item, |item| {
            if let Some(kept) = read(item)? {
                items.push(kept);
            }
            Ok(())
        });
        match fed {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
}

/// Where [`Split`] is in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Before the list's `[`.
    #[default]
    Before,
    /// After `[` or `,`: the next item (or, right after `[`, the `]` of an empty list).
    Open,
    /// Inside an item.
    Item,
    /// After the list's `]`: only white space may follow.
    Done,
}

/// Cuts a JSON list (`[item, item, ...]`) into its items' texts as the bytes arrive,
/// tracking only strings and nesting; each item's text is checked by serde when read.
#[derive(Debug, Default)]
struct Split {
    state: State,
    /// Nesting inside the current item.
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The current item's text so far (from earlier chunks).
    item: Vec<u8>,
    /// Items delivered.
    count: usize,
}

impl Split {
    /// Feeds `chunk`; `each` gets every item completed in it.
    fn feed(
        &mut self,
        chunk: &[u8],
        max_item: usize,
        mut each: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        // Where the current item's text starts in this chunk.
        let mut start = 0usize;
        for (i, &b) in chunk.iter().enumerate() {
            match self.state {
                State::Before => match b {
                    b'[' => self.state = State::Open,
                    b' ' | b'\t' | b'\n' | b'\r' => {}
                    0xEF | 0xBB | 0xBF if self.count == 0 => {} // a byte-order mark
                    _ => return Err("the reply is not a JSON list".into()),
                },
                State::Open => match b {
                    b' ' | b'\t' | b'\n' | b'\r' => {}
                    b']' if self.count == 0 => self.state = State::Done,
                    b']' | b',' => return Err(format!("item {}: missing", self.count + 1)),
                    _ => {
                        self.state = State::Item;
                        start = i;
                        self.item.clear();
                        self.step(b)?;
                    }
                },
                State::Item => {
                    if self.in_string || self.depth > 0 || !matches!(b, b',' | b']') {
                        self.step(b)?;
                        continue;
                    }
                    // The item ends here.
                    self.item.extend_from_slice(&chunk[start..i]);
                    self.check_size(max_item)?;
                    self.count += 1;
                    each(&self.item).map_err(|e| format!("item {}: {e}", self.count))?;
                    self.item.clear();
                    self.state = if b == b',' { State::Open } else { State::Done };
                }
                State::Done => {
                    if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                        return Err("text after the end of the list".into());
                    }
                }
            }
        }
        if self.state == State::Item {
            self.item.extend_from_slice(&chunk[start..]);
            self.check_size(max_item)?;
        }
        Ok(())
    }

    /// Follows strings and nesting through one byte of an item.
    fn step(&mut self, b: u8) -> Result<(), String> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return Ok(());
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.checked_sub(1).ok_or_else(|| {
                    format!("item {}: unbalanced '{}'", self.count + 1, b as char)
                })?;
            }
            _ => {}
        }
        Ok(())
    }

    fn check_size(&self, max_item: usize) -> Result<(), String> {
        if self.item.len() > max_item {
            return Err(format!(
                "item {} is larger than max_body = {}",
                self.count + 1,
                show_size(max_item as u64)
            ));
        }
        Ok(())
    }
}

/// Reads `T` from an item's text, an object: `Ok(None)` when the item is JSON of another
/// shape (a number where a user was expected: skipped, as a listing always skipped what it
/// could not read), `Err` when it is not JSON.
pub fn item<T: serde::de::DeserializeOwned>(text: &[u8]) -> Result<Option<T>, String> {
    let object = text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !object {
        // serde would read a struct from a list (`[1]`) too: only an object is an item.
        return serde_json::from_slice::<serde::de::IgnoredAny>(text)
            .map(|_| None)
            .map_err(|e| e.to_string());
    }
    match serde_json::from_slice::<T>(text) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.classify() == serde_json::error::Category::Data => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Deserializes a field leniently: a value of another type is `None` rather than an error
/// (a listed user whose `phone` is a number is still read), as reading a `Value` was.
pub fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Or<T> {
        Yes(T),
        No(serde::de::IgnoredAny),
    }
    Ok(match <Or<T> as serde::Deserialize>::deserialize(d)? {
        Or::Yes(v) => Some(v),
        Or::No(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VendorKind;

    /// The items of `text` fed in pieces of `size` bytes, or the error.
    fn split(text: &str, size: usize) -> Result<Vec<String>, String> {
        let mut s = Split::default();
        let mut out = Vec::new();
        for piece in text.as_bytes().chunks(size.max(1)) {
            s.feed(piece, 1 << 20, |item| {
                out.push(String::from_utf8_lossy(item).trim().to_string());
                Ok(())
            })?;
        }
        if s.state != State::Done {
            return Err("ends early".into());
        }
        Ok(out)
    }

    #[test]
    fn a_list_is_cut_into_its_items_however_the_bytes_arrive() {
        let text = " \n[{\"id\":1,\"name\":\"a, [b]\"} , {\"id\":2,\"t\":\"q\\\"]\",\"x\":[1,{\"y\":[]}]},3,\"s,]\" ,null]\n";
        let want = [
            r#"{"id":1,"name":"a, [b]"}"#,
            r#"{"id":2,"t":"q\"]","x":[1,{"y":[]}]}"#,
            "3",
            r#""s,]""#,
            "null",
        ];
        for size in 1..=text.len() {
            assert_eq!(split(text, size).unwrap(), want, "pieces of {size}");
        }
        assert_eq!(split("[]", 1).unwrap(), Vec::<String>::new());
        assert_eq!(split(" [ ] ", 2).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn what_is_not_a_whole_list_is_an_error() {
        for text in [
            "{\"users\": []}",
            "[1,2",
            "[1,,2]",
            "[1,]",
            "[1] x",
            "[{]}]",
            "",
        ] {
            assert!(split(text, 3).is_err(), "{text}");
        }
    }

    #[test]
    fn an_item_larger_than_max_body_is_an_error() {
        let mut s = Split::default();
        let err = s.feed(b"[\"0123456789\"]", 8, |_| Ok(())).unwrap_err();
        assert_eq!(err, "item 1 is larger than max_body = 8 bytes");
    }

    #[test]
    fn a_page_of_only_listed_ids_and_too_many_pages_are_errors_naming_the_listing() {
        let mut target = Target::with_defaults("m", VendorKind::Motive, "http://h");
        target.max_pages = 3;
        let mut pages = Pages::new(&target, "GET /users");
        assert_eq!(pages.next_page().unwrap(), 1);
        pages.read(100, ["1", "2"]).unwrap();
        assert_eq!(pages.next_page().unwrap(), 2);
        pages.read(100, ["2", "3"]).unwrap();
        pages.read(0, Vec::<&str>::new()).unwrap();
        let err = pages.read(100, ["1", "3"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "unexpected answer: GET /users: page 2 lists only ids earlier pages listed: the platform ignores the page asked for; listing stopped after 2 pages"
        );
        assert_eq!(pages.next_page().unwrap(), 3);
        let err = pages.next_page().unwrap_err().to_string();
        assert!(
            err.contains("GET /users: still more after 3 pages")
                && err.contains("max_pages = 3 on target m"),
            "{err}"
        );
    }

    #[test]
    fn a_page_is_capped_by_max_body_or_what_is_left_of_the_listing() {
        let mut target = Target::with_defaults("m", VendorKind::Motive, "http://h");
        target.max_body = 1000;
        target.max_listing = 2500;
        let mut pages = Pages::new(&target, "GET /users");
        pages.next_page().unwrap();
        assert_eq!(pages.cap().bytes, 1000);
        assert_eq!(pages.cap().name, "max_body = 1000 bytes");
        pages.read(1000, [1]).unwrap();
        pages.next_page().unwrap();
        pages.read(1000, [2]).unwrap();
        pages.next_page().unwrap();
        assert_eq!(pages.cap().bytes, 500);
        assert!(pages.cap().name.contains("max_listing = 2500 bytes"));
    }

    #[test]
    fn items_of_another_shape_are_skipped_and_broken_json_is_an_error() {
        #[derive(serde::Deserialize)]
        struct U {
            #[allow(dead_code)]
            id: i64,
        }
        assert!(item::<U>(br#"{"id":1}"#).unwrap().is_some());
        assert!(item::<U>(b"3").unwrap().is_none());
        assert!(item::<U>(b"[1]").unwrap().is_none());
        assert!(item::<U>(b"tru").is_err());
        assert!(item::<U>(br#"{"id":"x"}"#).unwrap().is_none());
        assert!(item::<U>(br#"{"id":1"#).is_err());
    }
}
