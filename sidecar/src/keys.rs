//! `bknd keys`: an anon key and a service_role key, signed by `bknd.jwt_sign` in the database.

use anyhow::Context;
use serde_json::json;

use crate::cli::KeysArgs;
use crate::extension::auth::jwt_sign_role;

pub async fn print(args: KeysArgs) -> anyhow::Result<()> {
    let mut client = crate::db::connect(&args.database_url).await?;
    let tx = client.transaction().await?;
    let superuser: bool = tx.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &[]).await?.get(0);
    if !superuser {
        // authenticator may become service_role, which may sign
        tx.batch_execute("SET LOCAL ROLE service_role").await.context("only a superuser or a member of service_role can sign keys")?;
    }
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
