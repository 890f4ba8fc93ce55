//! Tables, columns, indexes, relations, policies and the schema's history (`src/ddl`,
//! `src/policy`), and SQL for operators (`bknd.execute_sql`).

use serde_json::Value;

use super::{calls, Call, TextArray};

calls! {
    fn list_tables() = "SELECT bknd.list_tables()::text";
    fn describe_table(table: String) = "SELECT bknd.describe_table($1::text)::text";
    fn create_table(table: String, columns: &Value, options: &Value) =
        "SELECT bknd.create_table($1::text, $2::text::jsonb, $3::text::jsonb)::text";
    fn add_column(table: String, column: String, spec: &Value) =
        "SELECT bknd.add_column($1::text, $2::text, $3::text::jsonb)::text";
    fn drop_column(table: String, column: String) = "SELECT bknd.drop_column($1::text, $2::text)::text";
    fn rename_column(table: String, column: String, new_name: String) =
        "SELECT bknd.rename_column($1::text, $2::text, $3::text)::text";
    fn create_index(table: String, columns: TextArray, unique: bool, method: String) =
        "SELECT bknd.create_index($1::text, ARRAY(SELECT jsonb_array_elements_text($2::text::jsonb)), $3::text::boolean, $4::text)::text";
    fn create_relation(from_table: String, to_table: String, kind: String, options: &Value) =
        "SELECT bknd.create_relation($1::text, $2::text, $3::text, $4::text::jsonb)::text";
    fn drop_table(table: String, cascade: bool) = "SELECT to_jsonb(bknd.drop_table($1::text, $2::text::boolean))::text";
    fn policies(table: String) = "SELECT bknd.policies($1::text)::text";
    fn allow(table: String, operations: String, role: String, rule: String) =
        "SELECT bknd.allow($1::text, $2::text, $3::text, $4::text)::text";
    fn revoke(table: String, operations: String, role: String, rule: Option<String>) =
        "SELECT bknd.revoke($1::text, $2::text, $3::text, $4::text)::text";
    /// as the caller: its role, user and the tables of `schemas` it may use (get_context)
    fn agent_context(schemas: TextArray) = "SELECT bknd.agent_context(ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))::text";
    /// as the caller: security and performance findings (get_advisors)
    fn advisors(schemas: TextArray) = "SELECT bknd.advisors(ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))::text";
    /// as the caller: what the schemas hold, for generated TypeScript types
    fn api_schema(schemas: TextArray) = "SELECT bknd.api_schema(ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))::text";
    fn schema_history(max_rows: i64) = "SELECT bknd.schema_history($1::text::integer)::text";
    /// one statement, service_role only (the MCP `execute_sql` and `explain` tools)
    fn execute_sql(statement: String, read_only: bool) = "SELECT bknd.execute_sql($1::text, $2::text::boolean)::text";
}
