//! Every `bknd.*` function the sidecar calls, one Rust function each. The SQL text, its
//! argument order and its casts live here and nowhere else; an area builds a `Call` here and
//! runs it through the engine (`crate::engine`). Arguments travel as text and are cast in the
//! SQL, so one prepared statement serves every value. Each call answers JSON text (or NULL).

pub mod auth;
pub mod console;
pub mod realtime;
pub mod schema;
pub mod storage;
pub mod webhooks;

pub use crate::engine::Call;

/// A Rust value as a text argument (None is SQL NULL).
pub trait Arg {
    fn arg(self) -> Option<String>;
}

impl Arg for &str {
    fn arg(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Arg for String {
    fn arg(self) -> Option<String> {
        Some(self)
    }
}

impl Arg for Option<String> {
    fn arg(self) -> Option<String> {
        self
    }
}

impl Arg for Option<&str> {
    fn arg(self) -> Option<String> {
        self.map(str::to_string)
    }
}

impl Arg for bool {
    fn arg(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Arg for i64 {
    fn arg(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Arg for Option<i64> {
    fn arg(self) -> Option<String> {
        self.map(|n| n.to_string())
    }
}

impl Arg for &serde_json::Value {
    fn arg(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Arg for Option<&serde_json::Value> {
    fn arg(self) -> Option<String> {
        self.filter(|v| !v.is_null()).map(serde_json::Value::to_string)
    }
}

/// Bytes, as base64 text (the SQL decodes them: `decode($n::text, 'base64')`).
impl Arg for Vec<u8> {
    fn arg(self) -> Option<String> {
        use base64::Engine as _;
        Some(base64::engine::general_purpose::STANDARD.encode(self))
    }
}

/// A text[] argument: its elements as a JSON array, unpacked in the SQL.
pub struct TextArray<'a>(pub &'a [String]);

impl Arg for TextArray<'_> {
    fn arg(self) -> Option<String> {
        Some(serde_json::Value::from(self.0.to_vec()).to_string())
    }
}

/// `fn name(arg: Type, ...) = "SQL";` for each call: a function building the `Call`.
macro_rules! calls {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident : $ty:ty),* $(,)?) = $sql:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $name($($arg: $ty),*) -> Call {
                #[allow(unused_imports)]
                use $crate::extension::Arg;
                Call::new($sql, vec![$($arg.arg()),*])
            }
        )*
    };
}
pub(crate) use calls;

#[cfg(test)]
mod tests {
    /// Every call names a bknd function that the install SQL or the extension's Rust defines.
    #[test]
    fn every_call_names_a_function_the_extension_has() {
        let sources = [
            include_str!("auth.rs"),
            include_str!("console.rs"),
            include_str!("realtime.rs"),
            include_str!("schema.rs"),
            include_str!("storage.rs"),
            include_str!("webhooks.rs"),
        ];
        let mut defined = String::new();
        for dir in ["../sql", "../src"] {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            let mut stack = vec![root];
            while let Some(p) = stack.pop() {
                for entry in std::fs::read_dir(&p).unwrap().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        if !path.ends_with("archive") {
                            stack.push(path);
                        }
                    } else if path.extension().is_some_and(|e| e == "sql" || e == "rs") {
                        defined.push_str(&std::fs::read_to_string(&path).unwrap());
                    }
                }
            }
        }
        for source in sources {
            for piece in source.split("bknd.").skip(1) {
                let name: String = piece.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if name.is_empty() || !piece[name.len()..].starts_with('(') {
                    continue;
                }
                let sql = defined.contains(&format!("FUNCTION bknd.{name}(")) || defined.contains(&format!("FUNCTION \"{name}\""));
                let rust = defined.contains(&format!("fn {name}("));
                assert!(sql || rust, "bknd.{name} is called by the sidecar but not defined by the extension");
            }
        }
    }
}
