//! Sending auth email: by SMTP when `--smtp-url` is set (lettre), else, in development, to the
//! log on stderr.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `smtp://[user:pass@]host[:port]` (plain, for a local relay or sink),
    /// `smtp://...?tls=required` (STARTTLS, refused if the server does not offer it), or
    /// `smtps://...` (TLS from the first byte, port 465 by default)
    pub smtp_url: Option<String>,
    pub from: String,
}

pub async fn send(config: &MailConfig, to: &str, subject: &str, body: String) -> Result<(), String> {
    let Some(url) = &config.smtp_url else {
        tracing::info!("email (no --smtp-url; not sent) to {to}: {subject}\n{body}");
        return Ok(());
    };
    // lettre reads the scheme, credentials, port and `tls=` from the URL; the log never shows it
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| format!("bad --smtp-url: {e}"))?.build();
    let from: Mailbox = config.from.parse().map_err(|e| format!("bad --smtp-from: {e}"))?;
    let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
    let message = Message::builder().from(from).to(to).subject(subject).body(body).map_err(|e| e.to_string())?;
    transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
}
