//! `bknd keys`: an anon key and a service_role key, signed by `bknd.jwt_sign` in the database.

use anyhow::Context;
use serde_json::json;

use crate::cli::KeysArgs;
use crate::extension::auth::jwt_sign_role;

pub async fn print(args: KeysArgs) -> anyhow::Result<()> {
    let mut client = crate::db::connect(&args.database_url).await?;
    let tx = crate::db::as_service_role(&mut client, "can sign keys").await?;
    let mut keys = Vec::new();
    for role in ["anon", "service_role"] {
        let call = jwt_sign_role(role, i64::from(args.expires_in));
        let row = tx.query_one(call.sql, &call.params()).await.with_context(|| format!("signing the {role} key"))?;
        let text: Option<String> = row.get(0);
        let key: String = text.as_deref().and_then(|t| serde_json::from_str(t).ok()).context("jwt_sign answered no key")?;
        keys.push(key);
    }
    let (anon, service) = (&keys[0], &keys[1]);
    tx.commit().await?;
    println!("{}", json!({"anon": anon, "service_role": service}));
    Ok(())
}
