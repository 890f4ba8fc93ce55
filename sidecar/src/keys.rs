//! `bknd keys`: an anon key and a service_role key, signed by `bknd.jwt_sign` in the database.

use anyhow::Context;
use serde_json::json;

use crate::cli::KeysArgs;

pub async fn print(args: KeysArgs) -> anyhow::Result<()> {
    let mut client = crate::db::connect(&args.database_url).await?;
    let tx = client.transaction().await?;
    let superuser: bool = tx.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &[]).await?.get(0);
    if !superuser {
        // authenticator may become service_role, which may sign
        tx.batch_execute("SET LOCAL ROLE service_role").await.context("only a superuser or a member of service_role can sign keys")?;
    }
    let sign = "SELECT bknd.jwt_sign(jsonb_build_object('role', $1::text, 'iss', 'bknd'), $2)";
    let anon: String = tx.query_one(sign, &[&"anon", &args.expires_in]).await.context("signing the anon key")?.get(0);
    let service: String = tx.query_one(sign, &[&"service_role", &args.expires_in]).await.context("signing the service_role key")?.get(0);
    tx.commit().await?;
    println!("{}", json!({"anon": anon, "service_role": service}));
    Ok(())
}
