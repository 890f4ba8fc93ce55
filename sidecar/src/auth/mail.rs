//! Sending auth email: by SMTP when `--smtp-url` is set (lettre); else, in development, as a
//! file in a Maildir (`--mail-dir`, which `make run` sets to `$BKND_DATA_DIR/mail`), so codes
//! and links are easy to open; else to the log on stderr.

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `smtp://[user:pass@]host[:port]` (plain, for a local relay or sink),
    /// `smtp://...?tls=required` (STARTTLS, refused if the server does not offer it), or
    /// `smtps://...` (TLS from the first byte, port 465 by default)
    pub smtp_url: Option<String>,
    pub from: String,
    /// without SMTP: a Maildir to write each message to (`new/`, one file a message)
    pub mail_dir: Option<PathBuf>,
}

pub async fn send(config: &MailConfig, to: &str, subject: &str, body: String) -> Result<(), String> {
    let from: Mailbox = config.from.parse().map_err(|e| format!("bad --smtp-from: {e}"))?;
    let to_box: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
    let message = Message::builder().from(from).to(to_box).subject(subject).body(body.clone()).map_err(|e| e.to_string())?;
    let Some(url) = &config.smtp_url else {
        if let Some(dir) = &config.mail_dir {
            let dir = dir.clone();
            let bytes = message.formatted();
            let written = tokio::task::spawn_blocking(move || deliver(&dir, &bytes)).await.map_err(|e| e.to_string())?;
            let path = written.map_err(|e| format!("cannot write to the mail directory: {e}"))?;
            tracing::info!("email (no --smtp-url) to {to}: {subject}: {}", path.display());
            return Ok(());
        }
        tracing::info!("email (no --smtp-url; not sent) to {to}: {subject}\n{body}");
        return Ok(());
    };
    // lettre reads the scheme, credentials, port and `tls=` from the URL; the log never shows it
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| format!("bad --smtp-url: {e}"))?.build();
    transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
}

/// Maildir delivery: written whole under `tmp/`, then renamed into `new/`, so a reader never
/// sees half a message. Answers the file's path.
fn deliver(dir: &Path, message: &[u8]) -> std::io::Result<PathBuf> {
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    // Maildir's time.unique.host: unique within this process by a counter, across processes
    // by the pid (several sidecars may share one directory)
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{}.M{}P{}Q{n}.bknd.eml", now.as_secs(), now.subsec_micros(), std::process::id());
    let staged = dir.join("tmp").join(&name);
    std::fs::write(&staged, message)?;
    let delivered = dir.join("new").join(&name);
    std::fs::rename(&staged, &delivered)?;
    Ok(delivered)
}
