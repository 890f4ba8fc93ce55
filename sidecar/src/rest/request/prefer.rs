//! The `Prefer` header (RFC 7240), as PostgREST reads it. Several headers or one
//! comma-separated header are the same.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Return {
    #[default]
    Minimal,
    HeadersOnly,
    Representation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exact,
    Planned,
    Estimated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    MergeDuplicates,
    IgnoreDuplicates,
}

#[derive(Debug, Clone, Default)]
pub struct Preferences {
    pub return_: Option<Return>,
    pub count: Option<Count>,
    pub resolution: Option<Resolution>,
    pub missing_default: bool,
    pub tx_rollback: bool,
    /// What we honoured, for `Preference-Applied`.
    pub applied: Vec<String>,
}

pub fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Preferences {
    let mut p = Preferences::default();
    for item in values.flat_map(|v| v.split(',')).map(str::trim) {
        let applied = match item {
            "return=minimal" => {
                p.return_ = Some(Return::Minimal);
                true
            }
            "return=headers-only" => {
                p.return_ = Some(Return::HeadersOnly);
                true
            }
            "return=representation" => {
                p.return_ = Some(Return::Representation);
                true
            }
            "count=exact" => {
                p.count = Some(Count::Exact);
                true
            }
            "count=planned" => {
                p.count = Some(Count::Planned);
                true
            }
            "count=estimated" => {
                p.count = Some(Count::Estimated);
                true
            }
            "resolution=merge-duplicates" => {
                p.resolution = Some(Resolution::MergeDuplicates);
                true
            }
            "resolution=ignore-duplicates" => {
                p.resolution = Some(Resolution::IgnoreDuplicates);
                true
            }
            "missing=default" => {
                p.missing_default = true;
                true
            }
            "missing=null" => true,
            "tx=rollback" => {
                p.tx_rollback = true;
                true
            }
            "tx=commit" => true,
            _ => false, // unknown preferences are ignored (handling=lenient)
        };
        if applied && !p.applied.iter().any(|a| a == item) {
            p.applied.push(item.to_string());
        }
    }
    // PostgREST lists applied preferences in this order, whatever order they came in
    let rank = |a: &String| ["resolution=", "missing=", "return=", "count=", "tx="].iter().position(|k| a.starts_with(k)).unwrap_or(9);
    p.applied.sort_by_key(rank);
    p
}
