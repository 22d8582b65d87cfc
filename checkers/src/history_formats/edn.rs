//! A reader of EDN, the notation Jepsen and Knossos write histories in: nil, booleans,
//! integers, floats, strings, characters, keywords, symbols, lists, vectors, maps, sets,
//! tagged elements (`#inst "..."`), `#_` discards and `;` comments; commas are whitespace.
//!
//! Hand-written rather than taken from a crate because every value must carry the line and
//! column it starts at: an error in a history names the operation's line, and so does a
//! witness. Bad input is an error with a position, never a panic (nesting is bounded too).

use super::ReadError;

/// An EDN value.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A character, `\a`.
    Char(char),
    /// A keyword, without its colon: `:ok` is `Keyword("ok")`.
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// `( ... )`.
    List(Vec<Node>),
    /// `[ ... ]`.
    Vector(Vec<Node>),
    /// `{ k v ... }`, in file order.
    Map(Vec<(Node, Node)>),
    /// `#{ ... }`, in file order.
    Set(Vec<Node>),
    /// `#tag value`.
    Tagged(String, Box<Node>),
}

/// A value and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Edn,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Node {
    /// The value of `:key` when this is a map.
    pub fn get(&self, keyword: &str) -> Option<&Node> {
        match &self.value {
            Edn::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Edn::Keyword(name) if name == keyword))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The elements of a list or vector.
    pub fn elements(&self) -> Option<&[Node]> {
        match &self.value {
            Edn::List(items) | Edn::Vector(items) => Some(items),
            _ => None,
        }
    }

    /// An error located at this value.
    pub fn error(&self, reason: impl Into<String>) -> ReadError {
        ReadError {
            line: self.line,
            column: Some(self.column),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Edn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seq = |f: &mut std::fmt::Formatter<'_>, open: &str, items: &[Node], close: &str| {
            f.write_str(open)?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{}", item.value)?;
            }
            f.write_str(close)
        };
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Float(x) => write!(f, "{x}"),
            Edn::Str(s) => write!(f, "{s:?}"),
            Edn::Char(c) => write!(f, "\\{c}"),
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Symbol(s) => f.write_str(s),
            Edn::List(items) => seq(f, "(", items, ")"),
            Edn::Vector(items) => seq(f, "[", items, "]"),
            Edn::Set(items) => seq(f, "#{", items, "}"),
            Edn::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} {}", k.value, v.value)?;
                }
                f.write_str("}")
            }
            Edn::Tagged(tag, value) => write!(f, "#{tag} {}", value.value),
        }
    }
}

/// Nesting deeper than this is refused rather than risking the stack.
const DEPTH_MAX: usize = 256;

/// Reads every top-level value of `text`.
pub fn parse(text: &str) -> Result<Vec<Node>, ReadError> {
    let mut reader = Reader {
        text: text.as_bytes(),
        source: text,
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut values = Vec::new();
    loop {
        reader.skip_blank()?;
        if reader.peek().is_none() {
            return Ok(values);
        }
        if let Some(node) = reader.value(0)? {
            values.push(node);
        }
    }
}

struct Reader<'t> {
    text: &'t [u8],
    source: &'t str,
    pos: usize,
    line: u32,
    column: u32,
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if b & 0xC0 != 0x80 {
            // Continuation bytes of a UTF-8 character do not start a new column.
            self.column += 1;
        }
        Some(b)
    }

    fn error_here(&self, reason: impl Into<String>) -> ReadError {
        ReadError {
            line: self.line,
            column: Some(self.column),
            reason: reason.into(),
        }
    }

    /// Skips whitespace, commas and comments.
    fn skip_blank(&mut self) -> Result<(), ReadError> {
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || b == b',' {
                self.bump();
            } else if b == b';' {
                while self.peek().is_some_and(|b| b != b'\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Reads one value; None for a `#_` discard that consumed the next value.
    fn value(&mut self, depth: usize) -> Result<Option<Node>, ReadError> {
        if depth > DEPTH_MAX {
            return Err(self.error_here(format!("nesting deeper than {DEPTH_MAX} levels")));
        }
        let (line, column) = (self.line, self.column);
        let at = |value| {
            Ok(Some(Node {
                value,
                line,
                column,
            }))
        };
        let Some(b) = self.peek() else {
            return Err(self.error_here("expected a value, found the end of the file"));
        };
        match b {
            b'(' | b'[' | b'{' => {
                self.bump();
                let close = match b {
                    b'(' => b')',
                    b'[' => b']',
                    _ => b'}',
                };
                let items = self.sequence(close, (line, column), depth)?;
                match b {
                    b'(' => at(Edn::List(items)),
                    b'[' => at(Edn::Vector(items)),
                    _ => at(Edn::Map(pairs(items, line, column)?)),
                }
            }
            b')' | b']' | b'}' => Err(self.error_here(format!(
                "`{}` closes nothing: no list, vector or map is open here",
                b as char
            ))),
            b'"' => at(Edn::Str(self.string()?)),
            b'\\' => at(Edn::Char(self.character()?)),
            b'#' => self.dispatch(depth, line, column),
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return Err(ReadError {
                        line,
                        column: Some(column),
                        reason: "a keyword needs a name after `:`".into(),
                    });
                }
                at(Edn::Keyword(name.to_string()))
            }
            _ => {
                let token = self.token();
                if token.is_empty() {
                    return Err(
                        self.error_here(format!("unexpected character {:?}", self.char_here()))
                    );
                }
                at(atom(token).map_err(|reason| ReadError {
                    line,
                    column: Some(column),
                    reason,
                })?)
            }
        }
    }

    fn char_here(&self) -> char {
        self.source[self.pos..].chars().next().unwrap_or(' ')
    }

    /// Values up to `close`.
    fn sequence(
        &mut self,
        close: u8,
        opened: (u32, u32),
        depth: usize,
    ) -> Result<Vec<Node>, ReadError> {
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            match self.peek() {
                None => {
                    return Err(self.error_here(format!(
                        "the file ends before the `{}` opened at line {}, column {} is closed",
                        match close {
                            b')' => '(',
                            b']' => '[',
                            _ => '{',
                        },
                        opened.0,
                        opened.1
                    )))
                }
                Some(b) if b == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(b @ (b')' | b']' | b'}')) => {
                    return Err(self.error_here(format!(
                        "expected `{}` to close what opened at line {}, column {}, found `{}`",
                        close as char, opened.0, opened.1, b as char
                    )))
                }
                Some(_) => {
                    if let Some(item) = self.value(depth + 1)? {
                        items.push(item);
                    }
                }
            }
        }
    }

    /// `#{...}`, `#_ value`, `#tag value`.
    fn dispatch(
        &mut self,
        depth: usize,
        line: u32,
        column: u32,
    ) -> Result<Option<Node>, ReadError> {
        self.bump();
        match self.peek() {
            Some(b'{') => {
                self.bump();
                let items = self.sequence(b'}', (line, column), depth)?;
                Ok(Some(Node {
                    value: Edn::Set(items),
                    line,
                    column,
                }))
            }
            Some(b'_') => {
                self.bump();
                self.skip_blank()?;
                self.value(depth + 1)?;
                Ok(None)
            }
            Some(b) if b.is_ascii_alphabetic() => {
                let tag = self.token().to_string();
                self.skip_blank()?;
                let Some(inner) = self.value(depth + 1)? else {
                    return Err(self.error_here(format!("#{tag} needs a value after it")));
                };
                Ok(Some(Node {
                    value: Edn::Tagged(tag, Box::new(inner)),
                    line,
                    column,
                }))
            }
            _ => Err(ReadError {
                line,
                column: Some(column),
                reason: "`#` must start a set `#{`, a discard `#_` or a tag like `#inst`".into(),
            }),
        }
    }

    /// The characters up to the next delimiter.
    fn token(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_delimiter(b)) {
            self.bump();
        }
        &self.source[start..self.pos]
    }

    fn string(&mut self) -> Result<String, ReadError> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\') {
                self.bump();
            }
            out.push_str(&self.source[start..self.pos]);
            match self.bump() {
                Some(b'"') => return Ok(out),
                Some(_) => {
                    let escape_column = self.column - 1;
                    let escaped = match self.bump() {
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'u') => self.unicode_escape()?,
                        _ => {
                            return Err(ReadError {
                                line: self.line,
                                column: Some(escape_column),
                                reason: "unknown escape in a string; expected \\n, \\t, \\r, \\b, \\f, \\\", \\\\ or \\uXXXX".into(),
                            })
                        }
                    };
                    out.push(escaped);
                }
                None => {
                    return Err(ReadError {
                        line,
                        column: Some(column),
                        reason: "this string is never closed".into(),
                    })
                }
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, ReadError> {
        let start = self.pos;
        for _ in 0..4 {
            if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                return Err(self.error_here("\\u needs four hexadecimal digits"));
            }
            self.bump();
        }
        u32::from_str_radix(&self.source[start..self.pos], 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.error_here("\\u escape is not a character"))
    }

    fn character(&mut self) -> Result<char, ReadError> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let start = self.pos;
        // One character at least (it may itself be a delimiter, as in `\(`), then a name.
        let Some(first) = self.source[start..].chars().next() else {
            return Err(self.error_here("a character literal needs a character after `\\`"));
        };
        for _ in 0..first.len_utf8() {
            self.bump();
        }
        while self.peek().is_some_and(|b| !is_delimiter(b)) {
            self.bump();
        }
        let name = &self.source[start..self.pos];
        let named = match name {
            "newline" => Some('\n'),
            "space" => Some(' '),
            "tab" => Some('\t'),
            "return" => Some('\r'),
            "backspace" => Some('\u{8}'),
            "formfeed" => Some('\u{c}'),
            _ if name.chars().count() == 1 => Some(first),
            _ => name
                .strip_prefix('u')
                .filter(|hex| hex.len() == 4)
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32),
        };
        named.ok_or_else(|| ReadError {
            line,
            column: Some(column),
            reason: format!("unknown character literal \\{name}"),
        })
    }
}

/// Pairs the values of a map.
fn pairs(items: Vec<Node>, line: u32, column: u32) -> Result<Vec<(Node, Node)>, ReadError> {
    if items.len() % 2 == 1 {
        return Err(ReadError {
            line,
            column: Some(column),
            reason: format!(
                "this map has {} values, an odd number: every key needs a value",
                items.len()
            ),
        });
    }
    let mut items = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// nil, booleans, numbers and symbols.
fn atom(token: &str) -> Result<Edn, String> {
    match token {
        "nil" => return Ok(Edn::Nil),
        "true" => return Ok(Edn::Bool(true)),
        "false" => return Ok(Edn::Bool(false)),
        _ => {}
    }
    let bytes = token.as_bytes();
    let numeric = bytes[0].is_ascii_digit()
        || (matches!(bytes[0], b'+' | b'-') && bytes.get(1).is_some_and(u8::is_ascii_digit));
    if !numeric {
        return Ok(Edn::Symbol(token.to_string()));
    }
    if let Some(digits) = token.strip_suffix('N').or(Some(token)).filter(|d| {
        d.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && (b == b'+' || b == b'-')))
    }) {
        return digits
            .parse::<i64>()
            .map(Edn::Int)
            .map_err(|_| format!("the integer {token} does not fit in 64 bits"));
    }
    token
        .strip_suffix('M')
        .unwrap_or(token)
        .parse::<f64>()
        .map(Edn::Float)
        .map_err(|_| format!("{token} is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Edn {
        let values = parse(text).expect("parses");
        assert_eq!(values.len(), 1, "{text}");
        values.into_iter().next().unwrap().value
    }

    fn int(i: i64) -> Edn {
        Edn::Int(i)
    }

    fn values(nodes: &[Node]) -> Vec<Edn> {
        nodes.iter().map(|n| n.value.clone()).collect()
    }

    #[test]
    fn scalars() {
        assert_eq!(one("nil"), Edn::Nil);
        assert_eq!(one("true"), Edn::Bool(true));
        assert_eq!(one("-42"), int(-42));
        assert_eq!(one("+7"), int(7));
        assert_eq!(one("12N"), int(12));
        assert_eq!(one("1.5"), Edn::Float(1.5));
        assert_eq!(one("1e3"), Edn::Float(1000.0));
        assert_eq!(one(":invoke"), Edn::Keyword("invoke".into()));
        assert_eq!(one(":jepsen.db/x"), Edn::Keyword("jepsen.db/x".into()));
        assert_eq!(one("a-symbol?"), Edn::Symbol("a-symbol?".into()));
        assert_eq!(one(r#""x 0 0 y""#), Edn::Str("x 0 0 y".into()));
        assert_eq!(
            one(r#""a\"b\\c\nd\u00e9""#),
            Edn::Str("a\"b\\c\nd\u{e9}".into())
        );
        assert_eq!(one(r"\a"), Edn::Char('a'));
        assert_eq!(one(r"\newline"), Edn::Char('\n'));
        assert_eq!(one("-"), Edn::Symbol("-".into()));
    }

    #[test]
    fn collections_comments_commas_and_discards() {
        let text = "; a comment\n[1, 2 ; another\n (3 #_ 99 4) #{5} {:a 1, :b [nil]}]";
        let Edn::Vector(items) = one(text) else {
            panic!("a vector")
        };
        assert_eq!(items.len(), 5);
        assert_eq!(items[0].value, int(1));
        assert_eq!((items[0].line, items[0].column), (2, 2));
        assert_eq!((items[2].line, items[2].column), (3, 2));
        let Edn::List(list) = &items[2].value else {
            panic!("a list")
        };
        assert_eq!(values(list), vec![int(3), int(4)]);
        assert_eq!(
            items[3].value,
            Edn::Set(vec![Node {
                value: int(5),
                line: 3,
                column: 16
            }])
        );
        assert_eq!(items[4].get("a").map(|n| &n.value), Some(&int(1)));
        assert_eq!(items[4].get("c"), None);
    }

    #[test]
    fn multi_line_maps_and_one_map_per_line() {
        let text = "{:type :invoke,\n :f :txn,\n :value [[:read :x nil]],\n :process 2}\n\
                    {:type :ok, :f :txn, :value [[:read :x 0]], :process 2}\n";
        let forms = parse(text).unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[1].line, 5);
        assert_eq!(forms[0].get("process").map(|n| &n.value), Some(&int(2)));
        assert_eq!(forms[0].get("value").unwrap().line, 3);
    }

    #[test]
    fn tagged_values() {
        let Edn::Tagged(tag, inner) = one(r#"#inst "2024-01-01T00:00:00Z""#) else {
            panic!("tagged")
        };
        assert_eq!(tag, "inst");
        assert_eq!(inner.value, Edn::Str("2024-01-01T00:00:00Z".into()));
    }

    #[test]
    fn errors_name_the_line_column_and_reason() {
        let cases = [
            (
                "[1 2",
                1,
                5,
                "ends before the `[` opened at line 1, column 1",
            ),
            ("{:a 1\n :b}", 1, 1, "odd number"),
            ("[1 2)", 1, 5, "expected `]`"),
            ("\n  ]", 2, 3, "closes nothing"),
            ("\"abc", 1, 1, "never closed"),
            ("[99999999999999999999]", 1, 2, "does not fit"),
            ("[1 \"a\\qb\"]", 1, 6, "unknown escape"),
            ("#?(:clj 1)", 1, 1, "`#` must start"),
            ("[:]", 1, 2, "keyword needs a name"),
            ("\\bogus", 1, 1, "unknown character"),
        ];
        for (text, line, column, reason) in cases {
            let error = parse(text).expect_err(text);
            assert_eq!(
                (error.line, error.column),
                (line, Some(column)),
                "{text}: {error}"
            );
            assert!(error.reason.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(10_000);
        let error = parse(&text).expect_err("too deep");
        assert!(error.reason.contains("nesting"), "{error}");
    }

    #[test]
    fn printing_round_trips() {
        let text = r#"[{:a 1, :b "x"} (nil true) #{:k} #inst "t" \c -3 2.5]"#;
        let value = one(text);
        assert_eq!(one(&value.to_string()), value);
    }
}
