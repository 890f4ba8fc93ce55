//! The `Database` type supabase-js takes (`createClient<Database>(...)`), in the shape
//! `supabase gen types typescript` prints: per schema its Tables (Row, Insert, Update,
//! Relationships), Views, Functions, Enums and CompositeTypes, then the helper types. Made
//! from `bknd.api_schema` (what the schemas hold for the caller), by the MCP tool
//! `generate_typescript_types` and by `bknd gen types`.

use std::fmt::Write;

use serde_json::Value;

const HEADER: &str = "export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

";

const NONE: &str = "{\n      [_ in never]: never\n    }";

/// `bknd gen types`: the file for `args.schemas`, read as a superuser or as service_role.
pub async fn print(args: crate::cli::GenTypesArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut client = crate::db::connect(&args.database_url).await?;
    let tx = crate::db::as_service_role(&mut client, "reads the whole schema").await?;
    let call = crate::extension::schema::api_schema(crate::extension::TextArray(&args.schemas));
    let row = tx.query_one(call.sql, &call.params()).await.context("reading the schema (is the bknd extension installed?)")?;
    let text: Option<String> = row.get(0);
    let schema: Value = serde_json::from_str(text.as_deref().unwrap_or("{}")).context("bknd.api_schema answered no JSON")?;
    tx.commit().await?;
    print!("{}", render(&schema));
    Ok(())
}

/// The whole file, from `bknd.api_schema`'s answer.
pub fn render(schemas: &Value) -> String {
    let mut out = String::from(HEADER);
    out.push_str("export type Database = {\n");
    for (schema, content) in schemas.as_object().into_iter().flatten() {
        let _ = writeln!(out, "  {}: {{", key(schema));
        let _ = writeln!(out, "    Tables: {}", tables(schemas, &content["tables"], true));
        let _ = writeln!(out, "    Views: {}", tables(schemas, &content["views"], false));
        let _ = writeln!(out, "    Functions: {}", functions(schemas, schema, &content["functions"]));
        let _ = writeln!(out, "    Enums: {}", enums(&content["enums"]));
        let _ = writeln!(out, "    CompositeTypes: {NONE}");
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out.push_str(HELPERS);
    out.push_str(&constants(schemas));
    out
}

/// An object key: as it is when it is an identifier, else quoted.
fn key(name: &str) -> String {
    let ident = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        name.to_string()
    } else {
        Value::String(name.to_string()).to_string()
    }
}

fn string_literal(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// The TypeScript type of a PostgreSQL type by name (an enum's, by schema and name, when that
/// schema is described; else its labels are strings).
fn ts_type(all: &Value, name: &str, type_schema: &str, is_enum: bool) -> String {
    if is_enum {
        if all[type_schema]["enums"].get(name).is_some() {
            return format!("Database[{}][\"Enums\"][{}]", string_literal(type_schema), string_literal(name));
        }
        return "string".to_string();
    }
    match name {
        "bool" => "boolean",
        "int2" | "int4" | "int8" | "float4" | "float8" | "numeric" | "oid" => "number",
        "json" | "jsonb" => "Json",
        "text" | "varchar" | "bpchar" | "char" | "name" | "uuid" | "date" | "time" | "timetz" | "timestamp" | "timestamptz"
        | "interval" | "bytea" | "inet" | "cidr" | "macaddr" | "macaddr8" | "money" | "citext" | "tsvector" | "tsquery" | "xml" | "bit"
        | "varbit" | "point" | "line" | "lseg" | "box" | "path" | "polygon" | "circle" | "ltree" | "vector" => "string",
        "void" => "undefined",
        "record" => "Record<string, unknown>",
        _ => "unknown",
    }
    .to_string()
}

fn column_type(all: &Value, c: &Value) -> String {
    let base = ts_type(all, c["type"].as_str().unwrap_or(""), c["type_schema"].as_str().unwrap_or(""), c["enum"] == true);
    if c["array"] == true {
        format!("{base}[]")
    } else {
        base
    }
}

/// Tables (with Insert and Update) or views (Row and Relationships), sorted by name.
fn tables(all: &Value, list: &Value, writable: bool) -> String {
    let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        return NONE.to_string();
    }
    let mut out = String::from("{\n");
    for t in list {
        let columns = t["columns"].as_array().map(Vec::as_slice).unwrap_or_default();
        let _ = writeln!(out, "      {}: {{", key(t["name"].as_str().unwrap_or("")));
        out.push_str("        Row: {\n");
        for c in columns {
            // a view's columns may be null whatever their source says
            let nullable = c["nullable"] == true || !writable;
            let null = if nullable { " | null" } else { "" };
            let _ = writeln!(out, "          {}: {}{null}", key(c["name"].as_str().unwrap_or("")), column_type(all, c));
        }
        out.push_str("        }\n");
        if writable {
            for (part, all_optional) in [("Insert", false), ("Update", true)] {
                let _ = writeln!(out, "        {part}: {{");
                for c in columns {
                    let name = key(c["name"].as_str().unwrap_or(""));
                    if c["generated"] == true || (c["identity_always"] == true) {
                        let _ = writeln!(out, "          {name}?: never");
                        continue;
                    }
                    let optional = all_optional || c["nullable"] == true || c["has_default"] == true;
                    let null = if c["nullable"] == true { " | null" } else { "" };
                    let _ = writeln!(out, "          {name}{}: {}{null}", if optional { "?" } else { "" }, column_type(all, c));
                }
                out.push_str("        }\n");
            }
        }
        out.push_str(&relationships(&t["relationships"]));
        out.push_str("      }\n");
    }
    out.push_str("    }");
    out
}

fn relationships(list: &Value) -> String {
    let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        return "        Relationships: []\n".to_string();
    }
    let names = |v: &Value| -> String {
        let items: Vec<String> = v.as_array().into_iter().flatten().filter_map(Value::as_str).map(string_literal).collect();
        format!("[{}]", items.join(", "))
    };
    let mut out = String::from("        Relationships: [\n");
    for r in list {
        let referenced = r["referenced"].as_str().unwrap_or("");
        out.push_str("          {\n");
        let _ = writeln!(out, "            foreignKeyName: {}", string_literal(r["name"].as_str().unwrap_or("")));
        let _ = writeln!(out, "            columns: {}", names(&r["columns"]));
        let _ = writeln!(out, "            isOneToOne: {}", r["one_to_one"] == true);
        let _ = writeln!(out, "            referencedRelation: {}", string_literal(referenced));
        let _ = writeln!(out, "            referencedColumns: {}", names(&r["referenced_columns"]));
        out.push_str("          },\n");
    }
    out.push_str("        ]\n");
    out
}

/// Where a row type is described: `"Tables"` or `"Views"` of its schema, if at all.
fn relation(all: &Value, schema: &str, name: &str) -> Option<&'static str> {
    let has = |part: &str| all[schema][part].as_array().into_iter().flatten().any(|t| t["name"] == name);
    [("tables", "Tables"), ("views", "Views")].into_iter().find(|(part, _)| has(part)).map(|(_, key)| key)
}

fn functions(all: &Value, schema: &str, list: &Value) -> String {
    let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        return NONE.to_string();
    }
    // overloads share a name: their signatures are a union
    let mut by_name: Vec<(&str, Vec<String>)> = Vec::new();
    for f in list {
        let name = f["name"].as_str().unwrap_or("");
        let args = f["args"].as_array().map(Vec::as_slice).unwrap_or_default();
        let args = if args.is_empty() {
            "Record<PropertyKey, never>".to_string()
        } else {
            let fields: Vec<String> = args
                .iter()
                .map(|a| {
                    let t = if a["array"] == true {
                        format!("{}[]", ts_type(all, a["element"].as_str().unwrap_or(""), schema, false))
                    } else {
                        ts_type(all, a["type"].as_str().unwrap_or(""), schema, false)
                    };
                    format!("{}{}: {t}", key(a["name"].as_str().unwrap_or("")), if a["has_default"] == true { "?" } else { "" })
                })
                .collect();
            format!("{{ {} }}", fields.join("; "))
        };
        let returns_schema = f["returns_schema"].as_str().unwrap_or(schema);
        let returned = f["returns"].as_str().unwrap_or("");
        let mut returns = if f["returns_table"] == true {
            // a row type the file describes, else (a composite type, a table the token cannot
            // see or of another schema) a plain object
            match relation(all, returns_schema, returned) {
                Some(part) => format!("Database[{}][\"{part}\"][{}][\"Row\"]", string_literal(returns_schema), string_literal(returned)),
                None => "Record<string, unknown>".to_string(),
            }
        } else if f["returns_array"] == true {
            format!("{}[]", ts_type(all, f["returns_element"].as_str().unwrap_or(""), returns_schema, false))
        } else {
            ts_type(all, returned, returns_schema, false)
        };
        if f["returns_set"] == true {
            returns = format!("{returns}[]");
        }
        let signature = format!("{{ Args: {args}; Returns: {returns} }}");
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, signatures)) => signatures.push(signature),
            None => by_name.push((name, vec![signature])),
        }
    }
    let mut out = String::from("{\n");
    for (name, signatures) in by_name {
        let _ = writeln!(out, "      {}: {}", key(name), signatures.join(" | "));
    }
    out.push_str("    }");
    out
}

fn enums(map: &Value) -> String {
    let map = match map.as_object() {
        Some(m) if !m.is_empty() => m,
        _ => return NONE.to_string(),
    };
    let mut out = String::from("{\n");
    for (name, labels) in map {
        let labels: Vec<String> = labels.as_array().into_iter().flatten().filter_map(Value::as_str).map(string_literal).collect();
        let _ = writeln!(out, "      {}: {}", key(name), if labels.is_empty() { "never".to_string() } else { labels.join(" | ") });
    }
    out.push_str("    }");
    out
}

/// `Constants`: each schema's enum labels as values, as the Supabase CLI prints them.
fn constants(schemas: &Value) -> String {
    let mut out = String::from("\nexport const Constants = {\n");
    for (schema, content) in schemas.as_object().into_iter().flatten() {
        let _ = writeln!(out, "  {}: {{", key(schema));
        out.push_str("    Enums: {");
        let enums = content["enums"].as_object().cloned().unwrap_or_default();
        if enums.is_empty() {
            out.push_str("},\n");
        } else {
            out.push('\n');
            for (name, labels) in &enums {
                let labels: Vec<String> = labels.as_array().into_iter().flatten().filter_map(Value::as_str).map(string_literal).collect();
                let _ = writeln!(out, "      {}: [{}],", key(name), labels.join(", "));
            }
            out.push_str("    },\n");
        }
        out.push_str("  },\n");
    }
    out.push_str("} as const\n");
    out
}

const HELPERS: &str = r#"
type DefaultSchema = Database[Extract<keyof Database, "public">]

export type Tables<
  TableName extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"]),
> = (DefaultSchema["Tables"] & DefaultSchema["Views"])[TableName] extends { Row: infer R } ? R : never

export type TablesInsert<TableName extends keyof DefaultSchema["Tables"]> =
  DefaultSchema["Tables"][TableName] extends { Insert: infer I } ? I : never

export type TablesUpdate<TableName extends keyof DefaultSchema["Tables"]> =
  DefaultSchema["Tables"][TableName] extends { Update: infer U } ? U : never

export type Enums<EnumName extends keyof DefaultSchema["Enums"]> = DefaultSchema["Enums"][EnumName]
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_become_row_insert_and_update_fields() {
        let schema = json!({"public": {
            "tables": [{"name": "todos", "columns": [
                {"name": "done", "type": "bool", "type_schema": "pg_catalog", "nullable": false, "has_default": true},
                {"name": "id", "type": "int8", "type_schema": "pg_catalog", "nullable": false, "has_default": true, "identity_always": true},
                {"name": "status", "type": "state", "type_schema": "public", "enum": true, "nullable": true},
                {"name": "tags", "type": "text", "type_schema": "pg_catalog", "array": true, "nullable": true},
                {"name": "title", "type": "text", "type_schema": "pg_catalog", "nullable": false}],
              "relationships": [{"name": "todos_list_fkey", "columns": ["list_id"], "one_to_one": false, "referenced": "lists", "referenced_columns": ["id"]}]}],
            "views": [], "functions": [{"name": "add", "args": [{"name": "a", "type": "int4"}, {"name": "b", "type": "int4", "has_default": true}], "returns": "int4"},
                {"name": "mine", "args": [], "returns": "todos", "returns_schema": "public", "returns_table": true, "returns_set": true},
                {"name": "pair", "args": [], "returns": "a_pair", "returns_schema": "public", "returns_table": true}],
            "enums": {"state": ["open", "done"]}}});
        let ts = render(&schema);
        for expected in [
            "          done: boolean\n",
            "          id?: never\n",
            "          status: Database[\"public\"][\"Enums\"][\"state\"] | null\n",
            "          tags?: string[] | null\n",
            "          title: string\n",
            "          title?: string\n",
            "            referencedRelation: \"lists\"\n",
            "      add: { Args: { a: number; b?: number }; Returns: number }\n",
            "      mine: { Args: Record<PropertyKey, never>; Returns: Database[\"public\"][\"Tables\"][\"todos\"][\"Row\"][] }\n",
            "      pair: { Args: Record<PropertyKey, never>; Returns: Record<string, unknown> }\n",
            "      state: \"open\" | \"done\"\n",
            "    Views: {\n      [_ in never]: never\n    }\n",
            "      state: [\"open\", \"done\"],\n",
        ] {
            assert!(ts.contains(expected), "{expected:?} not in\n{ts}");
        }
        assert_eq!(key("my table"), "\"my table\"");
        assert_eq!(key("my_table"), "my_table");
    }
}
