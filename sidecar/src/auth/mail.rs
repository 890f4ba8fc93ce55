//! Sending auth email: by SMTP when `--smtp-url` is set (lettre), else, in development, to the
//! log on stderr.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone, Debug)]
pub struct MailConfig {
    /// smtp://[user:pass@]host:port (plain, for a local relay or sink)
    pub smtp_url: Option<String>,
    pub from: String,
}

pub async fn send(config: &MailConfig, to: &str, subject: &str, body: String) -> Result<(), String> {
    let Some(url) = &config.smtp_url else {
        tracing::info!("email (no --smtp-url; not sent) to {to}: {subject}\n{body}");
        return Ok(());
    };
    let parsed = url::Url::parse(url).map_err(|e| format!("bad --smtp-url: {e}"))?;
    let host = parsed.host_str().ok_or("--smtp-url has no host")?.to_string();
    let port = parsed.port().unwrap_or(25);
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port);
    if !parsed.username().is_empty() {
        builder = builder.credentials(Credentials::new(parsed.username().to_string(), parsed.password().unwrap_or("").to_string()));
    }
    let transport = builder.build();
    let from: Mailbox = config.from.parse().map_err(|e| format!("bad --smtp-from: {e}"))?;
    let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
    let message = Message::builder().from(from).to(to).subject(subject).body(body).map_err(|e| e.to_string())?;
    transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
}
