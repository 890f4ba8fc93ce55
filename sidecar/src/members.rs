//! `bknd members add`: a console member, through `bknd.console_add_member` as a superuser.

use anyhow::Context;
use serde_json::Value;

use crate::cli::MembersAddArgs;
use crate::extension::console::console_add_member;

pub async fn add(args: MembersAddArgs) -> anyhow::Result<()> {
    let client = crate::db::connect(&args.database_url).await?;
    let call = console_add_member(args.email.clone(), args.role.clone(), args.password.clone());
    let row = client.query_one(call.sql, &call.params()).await.map_err(|e| match e.as_db_error() {
        Some(db) => anyhow::anyhow!("{}{}", db.message(), db.hint().map(|h| format!(" ({h})")).unwrap_or_default()),
        None => anyhow::anyhow!("{e}"),
    })?;
    let text: Option<String> = row.get(0);
    let answer: Value = text.as_deref().and_then(|t| serde_json::from_str(t).ok()).context("console_add_member answered nothing")?;
    let member = &answer["member"];
    println!("{} is a console {}.", member["email"].as_str().unwrap_or_default(), member["role"].as_str().unwrap_or_default());
    if let Some(token) = answer["set_password_token"].as_str() {
        // the token rides in the fragment, which browsers never send to a server or a log
        println!(
            "To set the password (within 24 hours, once), open: {}/console/set-password#token={token}",
            args.public_url.trim_end_matches('/')
        );
    }
    Ok(())
}
