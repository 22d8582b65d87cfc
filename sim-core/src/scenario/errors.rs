//! Error messages for scenario authors: RON's errors moved to the offending value, with the
//! section names people write instead of our type names, and plain words for files cut short.

use super::ScenarioError;

/// Turns a RON error into one a scenario author can act on: the position of the offending
/// value, the section names they wrote instead of our type names, what was expected and what
/// was found.
pub(super) fn describe_error(
    file: &str,
    text: &str,
    error: ron::error::SpannedError,
) -> ScenarioError {
    let (line, column, message) = match shape_problem(text, &error) {
        Some(problem) => problem,
        None => {
            let start = &error.span.start;
            let (line, column) = value_start(text, start.line, start.col, &error.code);
            let token = token_at(text, line, column);
            (line, column, describe_code(error.code, &token))
        }
    };
    ScenarioError {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// Problems with the file's shape that RON reports where it noticed them, which is rarely
/// where they are: an empty file, a byte-order mark, a comment, string or bracket never
/// closed. Returns the position to report and the message.
fn shape_problem(text: &str, error: &ron::error::SpannedError) -> Option<(usize, usize, String)> {
    let code = &error.code;
    let (line, column) = (error.span.start.line, error.span.start.col);
    let scan = scan_brackets(text);
    if matches!(
        code,
        ron::Error::Eof | ron::Error::ExpectedNamedStructLike(_)
    ) && scan.blank
    {
        let message = "the file is empty: expected a scenario such as Scenario(name: \"...\", nodes: 3, duration: \"10s\", protocol: Lww())";
        return Some((1, 1, message.into()));
    }
    if text.starts_with('\u{feff}') && line == 1 && column <= 2 {
        let message =
            "the file starts with a byte-order mark (U+FEFF): save it as UTF-8 without one";
        return Some((1, 1, message.into()));
    }
    if let (ron::Error::UnclosedBlockComment, Some((line, column))) = (code, scan.unclosed_comment)
    {
        let message = "this `/*` comment is never closed: expected `*/` before the end of the file";
        return Some((line, column, message.into()));
    }
    if *code == ron::Error::ExpectedStringEnd {
        let (line, column) = value_start(text, line, column, code);
        let message = "this string is never closed: expected a closing `\"`";
        return Some((line, column, message.into()));
    }
    let cut_short = is_syntax_error(code) && is_blank_after(text, &error.span.end);
    if let (true, Some(open)) = (cut_short, scan.unclosed.last()) {
        let close = match open.bracket {
            '(' => ')',
            '[' => ']',
            _ => '}',
        };
        let message = format!(
            "this `{}` is never closed: expected `{close}` before the end of the file",
            open.bracket
        );
        return Some((open.line, open.column, message));
    }
    if *code == ron::Error::Eof {
        return Some((
            line,
            column,
            "the file ends in the middle of a value".into(),
        ));
    }
    None
}

/// Whether only whitespace and comments follow `position`.
fn is_blank_after(text: &str, position: &ron::error::Position) -> bool {
    line_offset(text, position.line)
        .and_then(|start| {
            let rest = &text[start..];
            let (at, _) = rest.char_indices().nth(position.col.saturating_sub(1))?;
            Some(scan_brackets(&rest[at..]).blank)
        })
        .unwrap_or(true)
}

/// Whether RON gave up on the shape of the text (and not on a value it read): when that
/// happens at the end of the file, the file was cut short.
fn is_syntax_error(code: &ron::Error) -> bool {
    matches!(
        code,
        ron::Error::Eof
            | ron::Error::ExpectedComma
            | ron::Error::ExpectedMapColon
            | ron::Error::ExpectedIdentifier
            | ron::Error::ExpectedString
            | ron::Error::ExpectedFloat
            | ron::Error::ExpectedInteger
            | ron::Error::ExpectedBoolean
            | ron::Error::ExpectedUnit
            | ron::Error::ExpectedOption
            | ron::Error::ExpectedOptionEnd
            | ron::Error::ExpectedStructLike
            | ron::Error::ExpectedNamedStructLike(_)
            | ron::Error::ExpectedStructLikeEnd
            | ron::Error::ExpectedArray
            | ron::Error::ExpectedArrayEnd
            | ron::Error::ExpectedMap
            | ron::Error::ExpectedMapEnd
    )
}

/// The message for one RON error; `token` is the text at the error's position.
fn describe_code(code: ron::Error, token: &str) -> String {
    match code {
        ron::Error::NoSuchEnumVariant { .. }
        | ron::Error::NoSuchStructField { .. }
        | ron::Error::MissingStructField { .. }
        | ron::Error::DuplicateStructField { .. }
        | ron::Error::ExpectedDifferentLength { .. }
        | ron::Error::ExpectedDifferentStructName { .. } => describe_names(code),
        other => describe_syntax(other, token),
    }
}

/// Errors that name one of our types: say what the author wrote instead (`network`, not
/// `NetworkSpec`; "unknown fault kind", not "variant in enum `FaultRaw`").
fn describe_names(code: ron::Error) -> String {
    match code {
        ron::Error::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => match outer.as_deref().and_then(enum_noun) {
            Some(noun) => {
                let hint = if noun == "fault" {
                    " (write each fault as At(\"2s\", Crash(\"n1\")))"
                } else {
                    ""
                };
                format!(
                    "unknown {noun} `{found}`{hint}, expected one of: {}",
                    expected.join(", ")
                )
            }
            None => ron::Error::NoSuchEnumVariant {
                expected,
                found,
                outer,
            }
            .to_string(),
        },
        ron::Error::NoSuchStructField {
            expected,
            found,
            outer,
        } => ron::Error::NoSuchStructField {
            expected,
            found,
            outer: outer.map(section_name),
        }
        .to_string(),
        ron::Error::MissingStructField { field, outer } => ron::Error::MissingStructField {
            field,
            outer: outer.map(section_name),
        }
        .to_string(),
        ron::Error::DuplicateStructField { field, outer } => ron::Error::DuplicateStructField {
            field,
            outer: outer.map(section_name),
        }
        .to_string(),
        ron::Error::ExpectedDifferentLength { expected, found } => {
            ron::Error::ExpectedDifferentLength {
                expected: expected.replace("FaultSpec::At", "At(time, fault)"),
                found,
            }
            .to_string()
        }
        ron::Error::ExpectedDifferentStructName {
            expected: "Scenario",
            found,
        } => {
            format!("expected the scenario, Scenario(...), found `{found}`")
        }
        ron::Error::ExpectedDifferentStructName { expected, found } => format!(
            "expected `(` to open `{}`, found `{found}`",
            section_name(expected.to_string())
        ),
        other => other.to_string(),
    }
}

/// Errors in the shape of the text: say what was expected and what is there instead.
fn describe_syntax(code: ron::Error, token: &str) -> String {
    let found = if token.is_empty() {
        "the end of the line".to_string()
    } else {
        format!("`{token}`")
    };
    match code {
        ron::Error::ExpectedString => expected_string(token, &found),
        ron::Error::ExpectedFloat => format!("expected a number such as 0.5, found {found}"),
        ron::Error::ExpectedInteger | ron::Error::InvalidIntegerDigit { .. } => {
            format!("expected a whole number, found {found}")
        }
        ron::Error::IntegerOutOfBounds => {
            format!("the number {found} is out of range for this field")
        }
        ron::Error::ExpectedBoolean => format!("expected true or false, found {found}"),
        ron::Error::ExpectedComma => {
            format!("expected `,` or a closing bracket, found {found}")
        }
        ron::Error::ExpectedMapColon => format!("expected `:` after the name, found {found}"),
        ron::Error::ExpectedIdentifier | ron::Error::SuggestRawIdentifier(_) => {
            format!("expected a name (a field, a variant or a protocol), found {found}")
        }
        ron::Error::ExpectedNamedStructLike("Scenario") if token == "Scenario" => {
            "expected `(` after `Scenario`".to_string()
        }
        ron::Error::ExpectedNamedStructLike("Scenario") => {
            format!("expected the scenario, Scenario(...), found {found}")
        }
        ron::Error::ExpectedNamedStructLike(name) => format!(
            "expected `(` to open `{}`, found {found}",
            section_name(name.to_string())
        ),
        ron::Error::ExpectedStructLike => format!("expected `(`, found {found}"),
        ron::Error::ExpectedStructLikeEnd | ron::Error::ExpectedOptionEnd => {
            format!("expected `)`, found {found}")
        }
        ron::Error::ExpectedArray => format!("expected a list in `[...]`, found {found}"),
        ron::Error::ExpectedArrayEnd => format!("expected `]`, found {found}"),
        ron::Error::ExpectedMap => format!("expected a map in `{{...}}`, found {found}"),
        ron::Error::ExpectedMapEnd => format!("expected `}}`, found {found}"),
        ron::Error::UnexpectedChar(_) if token.starts_with('/') => {
            "a lone `/`: comments start with `//` or `/*`".to_string()
        }
        ron::Error::UnexpectedChar(c) => format!("unexpected character {c:?}"),
        ron::Error::TrailingCharacters => {
            format!("unexpected text after the end of the scenario: {found}")
        }
        other => other.to_string(),
    }
}

/// "Expected string" says nothing about which string: every string in a scenario is a name,
/// a duration or a node, so say which one the unquoted text looks like.
fn expected_string(token: &str, found: &str) -> String {
    let looks_like_node = token
        .strip_prefix('n')
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()));
    if looks_like_node {
        format!("expected a node name in quotes, such as \"n1\", found {found}")
    } else if token.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
        format!("expected a duration in quotes, such as \"250ms\" or \"2s\", found {found}")
    } else {
        format!("expected a string in quotes, found {found}")
    }
}

/// The section a scenario author wrote, for our type names in RON's messages.
fn section_name(outer: String) -> String {
    let name = match outer.as_str() {
        "NetworkSpec" => "network",
        "LinkSpec" => "links",
        "ClockSpec" => "clocks",
        "StorageSpec" => "storage",
        "NemesisSpec" => "nemesis",
        "WorkloadSpec" => "workload",
        "SettleOptions" => "settle_options",
        "LimitsSpec" => "limits",
        _ => return outer,
    };
    name.to_string()
}

/// What the variants of one of our enums are, in words.
fn enum_noun(outer: &str) -> Option<&'static str> {
    Some(match outer {
        "FaultSpec" => "fault",
        "FaultRaw" => "fault kind",
        "LatencyRaw" => "latency distribution",
        "DeliverySpec" => "delivery",
        "KeyDistributionSpec" => "key distribution",
        "ModeSpec" => "workload mode",
        "TargetSpec" => "workload target",
        "CheckName" => "check",
        _ => return None,
    })
}

/// Where the offending value starts. RON reports syntax errors at the whitespace before a
/// value, and errors in a value it read inside the string (after the opening quote) or after
/// the sign of a number: move to the value's first character.
fn value_start(text: &str, line: usize, column: usize, code: &ron::Error) -> (usize, usize) {
    let read_a_value = matches!(
        code,
        ron::Error::Message(_) | ron::Error::ExpectedStringEnd | ron::Error::IntegerOutOfBounds
    );
    let Some(line_start) = line_offset(text, line) else {
        return (line, column);
    };
    let chars: Vec<char> = text[line_start..].chars().collect();
    let index = column.saturating_sub(1);
    if index >= chars.len() {
        return (line, column);
    }
    if read_a_value && index > 0 {
        let before = &chars[..index];
        let quotes = before
            .iter()
            .enumerate()
            .filter(|&(i, &c)| c == '"' && (i == 0 || before[i - 1] != '\\'))
            .count();
        let inside_string = quotes % 2 == 1 && before[index - 1] == '"';
        let after_sign =
            matches!(before[index - 1], '-' | '+') && chars[index].is_ascii_alphanumeric();
        if inside_string || after_sign {
            return (line, column - 1);
        }
    }
    let (mut next_line, mut next_column) = (line, column);
    for &c in &chars[index..] {
        if !c.is_whitespace() {
            return (next_line, next_column);
        }
        if c == '\n' {
            next_line += 1;
            next_column = 1;
        } else {
            next_column += 1;
        }
    }
    // Nothing but whitespace to the end: keep RON's position.
    (line, column)
}

/// The byte offset where 1-based `line` starts.
fn line_offset(text: &str, line: usize) -> Option<usize> {
    match line {
        0 => None,
        1 => Some(0),
        _ => text.match_indices('\n').nth(line - 2).map(|(at, _)| at + 1),
    }
}

/// The text at a 1-based position, up to the next delimiter (a whole string if it starts
/// with a quote, the delimiter alone if it starts with one): what the author wrote there.
fn token_at(text: &str, line: usize, column: usize) -> String {
    const TOKEN_CHARS_MAX: usize = 40;
    let Some(rest) = line_offset(text, line).and_then(|start| {
        let text = &text[start..];
        let (at, _) = text.char_indices().nth(column.saturating_sub(1))?;
        Some(&text[at..])
    }) else {
        return String::new();
    };
    let is_delimiter = |c: char| matches!(c, ',' | ':' | '(' | ')' | '[' | ']' | '{' | '}');
    let mut chars = rest.chars();
    let token: String = match chars.next() {
        None => String::new(),
        Some(c) if c.is_whitespace() => String::new(),
        Some(c) if is_delimiter(c) => c.to_string(),
        Some('"') => {
            let mut escaped = false;
            let body: String = chars
                .take_while(|&c| {
                    let end = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    !end && c != '\n'
                })
                .collect();
            format!("\"{body}\"")
        }
        Some(first) => std::iter::once(first)
            .chain(chars.take_while(|&c| !(c.is_whitespace() || is_delimiter(c))))
            .collect(),
    };
    if token.chars().count() > TOKEN_CHARS_MAX {
        let cut: String = token.chars().take(TOKEN_CHARS_MAX).collect();
        return format!("{cut}...");
    }
    token
}

/// A bracket that is still open, with its 1-based position.
struct OpenBracket {
    bracket: char,
    line: usize,
    column: usize,
}

/// What a scan of the text outside strings and comments found.
struct BracketScan {
    /// Brackets opened and never closed, outermost first.
    unclosed: Vec<OpenBracket>,
    /// Whether the text holds nothing but whitespace and comments.
    blank: bool,
    /// Where a block comment that never ends begins.
    unclosed_comment: Option<(usize, usize)>,
}

/// Finds the brackets left open at the end of the text, skipping strings, characters and
/// (nested) comments the way RON does; best effort, for the message of an unexpected end.
fn scan_brackets(text: &str) -> BracketScan {
    let chars: Vec<char> = text.chars().collect();
    let mut scan = BracketScan {
        unclosed: Vec::new(),
        blank: true,
        unclosed_comment: None,
    };
    let mut cursor = Cursor {
        chars: &chars,
        index: 0,
        line: 1,
        column: 1,
    };
    while let Some(c) = cursor.peek(0) {
        let next = cursor.peek(1);
        if c == '/' && next == Some('/') {
            while cursor.peek(0).is_some_and(|c| c != '\n') {
                cursor.step(1);
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let start = (cursor.line, cursor.column);
            if !cursor.skip_block_comment() {
                scan.unclosed_comment = Some(start);
            }
            continue;
        }
        if !c.is_whitespace() {
            scan.blank = false;
        }
        match c {
            '(' | '[' | '{' => scan.unclosed.push(OpenBracket {
                bracket: c,
                line: cursor.line,
                column: cursor.column,
            }),
            ')' | ']' | '}' => {
                scan.unclosed.pop();
            }
            '"' | '\'' => cursor.skip_quoted(c),
            'r' if matches!(next, Some('"' | '#')) => cursor.skip_raw_string(),
            _ => {}
        }
        cursor.step(1);
    }
    scan
}

/// A position in text being scanned, as an index and as a 1-based line and column.
struct Cursor<'a> {
    chars: &'a [char],
    index: usize,
    line: usize,
    column: usize,
}

impl Cursor<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.index + ahead).copied()
    }

    fn step(&mut self, count: usize) {
        for _ in 0..count {
            match self.peek(0) {
                None => return,
                Some('\n') => {
                    self.line += 1;
                    self.column = 1;
                }
                Some(_) => self.column += 1,
            }
            self.index += 1;
        }
    }

    /// From an opening `/*` to just after its matching `*/` (comments nest in RON); false
    /// when the text ends first.
    fn skip_block_comment(&mut self) -> bool {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            let pair = (c, self.peek(1));
            if pair == ('/', Some('*')) {
                depth += 1;
                self.step(2);
            } else if pair == ('*', Some('/')) {
                self.step(2);
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return true;
                }
            } else {
                self.step(1);
            }
        }
        false
    }

    /// From an opening quote to its closing quote, honouring escapes.
    fn skip_quoted(&mut self, quote: char) {
        self.step(1);
        while let Some(c) = self.peek(0) {
            if c == quote {
                return;
            }
            self.step(if c == '\\' { 2 } else { 1 });
        }
    }

    /// From the `r` of r#"..."# to its closing quote and hashes, less one character.
    fn skip_raw_string(&mut self) {
        let hashes = self.chars[self.index + 1..]
            .iter()
            .take_while(|&&h| h == '#')
            .count();
        self.step(1 + hashes);
        if self.peek(0) != Some('"') {
            return;
        }
        self.step(1);
        while self.peek(0).is_some() {
            let closes =
                self.peek(0) == Some('"') && (1..=hashes).all(|h| self.peek(h) == Some('#'));
            if closes {
                self.step(hashes);
                return;
            }
            self.step(1);
        }
    }
}
