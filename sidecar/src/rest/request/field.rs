//! Field names with JSON paths (`data->foo->>bar`), shared by select, filters and order.

use crate::rest::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrow {
    /// `->`: the JSON value
    Json,
    /// `->>`: the value as text
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonStep {
    pub arrow: Arrow,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub json_path: Vec<JsonStep>,
}

impl Field {
    /// The JSON key a selected field shows as: the alias, else the last JSON key, else the name.
    pub fn default_label(&self) -> &str {
        self.json_path.last().map(|s| s.key.as_str()).unwrap_or(&self.name)
    }
}

/// A cursor over a query-language string.
pub struct Cursor<'a> {
    pub text: &'a str,
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Cursor<'a> {
        Cursor { text, pos: 0 }
    }

    pub fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    pub fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    pub fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += self.peek().map(char::len_utf8).unwrap_or(1);
        }
    }

    /// A name: a double-quoted string, or letters, digits, `_`, `$`, spaces and dashes that do
    /// not start an arrow.
    pub fn name(&mut self, what: &str) -> Result<String, ApiError> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            let ok = c.is_alphanumeric() || c == '_' || c == '$' || c == ' ' || (c == '-' && !self.rest().starts_with("->"));
            if !ok {
                break;
            }
            self.pos += c.len_utf8();
        }
        let name = self.text[start..self.pos].trim();
        if name.is_empty() {
            return Err(self.error(&format!("expected {what}")));
        }
        Ok(name.to_string())
    }

    /// A double-quoted string with backslash escapes.
    pub fn quoted(&mut self) -> Result<String, ApiError> {
        if !self.eat("\"") {
            return Err(self.error("expected '\"'"));
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated quoted string")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                // names are spliced into SQL text, which cannot hold NUL
                Some('\0') => return Err(self.error("expecting a name without the NUL character")),
                Some('\\') => {
                    self.pos += 1;
                    let Some(c) = self.peek() else { return Err(self.error("unterminated escape")) };
                    if c == '\0' {
                        return Err(self.error("expecting a name without the NUL character"));
                    }
                    out.push(c);
                    self.pos += c.len_utf8();
                }
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    /// A field with its JSON path.
    pub fn field(&mut self) -> Result<Field, ApiError> {
        let name = self.name("a column name")?;
        Ok(Field { name, json_path: self.json_path()? })
    }

    /// `->key->>key ...`, possibly empty.
    pub fn json_path(&mut self) -> Result<Vec<JsonStep>, ApiError> {
        let mut json_path = Vec::new();
        loop {
            let arrow = if self.eat("->>") {
                Arrow::Text
            } else if self.eat("->") {
                Arrow::Json
            } else {
                break;
            };
            let key = self.name("a JSON key")?;
            json_path.push(JsonStep { arrow, key });
        }
        Ok(json_path)
    }

    pub fn error(&self, expected: &str) -> ApiError {
        let found = match self.peek() {
            Some(c) => format!("unexpected '{c}'"),
            None => "unexpected end of input".to_string(),
        };
        ApiError::parse(format!("\"failed to parse {}\"", self.text), format!("{found} {expected}"))
    }
}

/// Parse a whole string as a field.
pub fn parse_field(text: &str) -> Result<Field, ApiError> {
    let mut c = Cursor::new(text);
    let f = c.field()?;
    if !c.at_end() {
        return Err(c.error("expecting end of input"));
    }
    Ok(f)
}
