//! TLS to PostgreSQL, as the database URL asks with libpq's `sslmode` and `sslrootcert`, over
//! rustls (so the sidecar may run on another host than the database):
//!
//! | `sslmode`                  | connection | the server's certificate                        |
//! |----------------------------|------------|-------------------------------------------------|
//! | absent, `disable`, `allow`, `prefer` | plain | -                                     |
//! | `require`                  | TLS        | not checked (checked as `verify-ca` when `sslrootcert` is given, as libpq does) |
//! | `verify-ca`                | TLS        | signed by a CA of `sslrootcert`                 |
//! | `verify-full`              | TLS        | that, and issued for the host connected to      |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the system's store; without
//! it, `verify-ca` and `verify-full` use `~/.postgresql/root.crt`, as libpq does. `prefer`
//! stays plain: it cannot tell an attacker's refusal of TLS from the server's, so it protects
//! nothing, and a database on the same host needs no encryption. Client certificates
//! (`sslcert`, `sslkey`) are not supported.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the URL asks of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    /// encrypted, the certificate unchecked
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "disable",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }
}

/// The connection settings of `database_url` and the TLS connector they ask for (with a
/// plain mode the connector is never used). The URL is a `postgres://` URL or libpq's
/// `key=value` form.
pub fn connector_for(database_url: &str) -> anyhow::Result<(tokio_postgres::Config, MakeRustlsConnect)> {
    let (config, tls, _) = settings(database_url)?;
    Ok((config, tls))
}

/// As [`connector_for`], with the mode.
pub fn settings(database_url: &str) -> anyhow::Result<(tokio_postgres::Config, MakeRustlsConnect, Mode)> {
    let (rest, ssl) = take_ssl_options(database_url)?;
    // the error does not repeat the URL: it may hold a password
    let mut config: tokio_postgres::Config = rest.parse().context("invalid --database-url")?;
    let mode = match ssl.mode.as_deref() {
        None | Some("disable" | "allow" | "prefer") => Mode::Plain,
        Some("require") if ssl.root_cert.is_some() => Mode::VerifyCa,
        Some("require") => Mode::Require,
        Some("verify-ca") => Mode::VerifyCa,
        Some("verify-full") => Mode::VerifyFull,
        Some(other) => {
            bail!("invalid --database-url: sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
    };
    config.ssl_mode(if mode == Mode::Plain { SslMode::Disable } else { SslMode::Require });
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        Mode::Plain | Mode::Require => Arc::new(Unchecked(provider)),
        Mode::VerifyCa | Mode::VerifyFull => {
            let roots = Arc::new(roots(ssl.root_cert.as_deref(), mode)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider).build()?;
            if mode == Mode::VerifyCa {
                Arc::new(AnyName(webpki))
            } else {
                webpki
            }
        }
    };
    let tls = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    Ok((config, MakeRustlsConnect::new(tls), mode))
}

/// At start, for a URL that asks for TLS: one connection, so that a certificate the sidecar
/// refuses, or a server without TLS, stops it with a clear error instead of failing every
/// request. Any other failure (the database not up yet) is left to the pool's retries.
pub fn check_at_start(config: &tokio_postgres::Config, tls: &MakeRustlsConnect, mode: Mode) -> anyhow::Result<()> {
    if mode == Mode::Plain {
        return Ok(());
    }
    let mut config = config.clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    let tls = tls.clone();
    // a thread of its own: the caller may be inside the runtime, and the pool is built in sync code
    let outcome = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            match config.connect(tls).await {
                Ok((client, connection)) => {
                    drop(client);
                    let _ = connection.await;
                    Ok(())
                }
                Err(e) => Err(crate::error_chain::describe(&e)),
            }
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the TLS check at start failed"))?;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if e.starts_with("error performing TLS handshake") => {
            let hint = if e.contains("UnknownIssuer") {
                " (the server's certificate is not signed by a CA of sslrootcert)"
            } else if e.contains("not valid for name") {
                " (the URL's host must be a name the server's certificate is issued for)"
            } else {
                ""
            };
            bail!("cannot connect to the database with sslmode={}: {e}{hint}", mode.name())
        }
        Err(e) => {
            tracing::warn!("the database is not reachable yet (sslmode={}): {e}", mode.name());
            Ok(())
        }
    }
}

#[derive(Debug, Default)]
struct SslOptions {
    mode: Option<String>,
    root_cert: Option<String>,
}

/// `database_url` without the options tokio-postgres does not know (sslmode's verify modes,
/// sslrootcert), and those options. A URL without them comes back as it is.
fn take_ssl_options(database_url: &str) -> anyhow::Result<(String, SslOptions)> {
    let mut ssl = SslOptions::default();
    let mut take = |key: &str, value: String| -> anyhow::Result<bool> {
        match key {
            "sslmode" => ssl.mode = Some(value),
            "sslrootcert" => ssl.root_cert = Some(value),
            "sslcert" | "sslkey" | "sslpassword" => {
                bail!("invalid --database-url: {key}: client certificates are not supported")
            }
            _ => return Ok(false),
        }
        Ok(true)
    };
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        let Some((base, query)) = database_url.split_once('?') else { return Ok((database_url.to_string(), ssl)) };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
            if !take(&decode(k), decode(v))? {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        return Ok((rest, ssl));
    }
    // libpq's key=value form
    let mut kept = Vec::new();
    for (k, v) in key_values(database_url)? {
        if !take(&k, v.clone())? {
            kept.push(format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")));
        }
    }
    Ok((kept.join(" "), ssl))
}

/// The pairs of libpq's `key=value key='quoted \' value'` form.
fn key_values(s: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            bail!("invalid --database-url: {key:?} has no value");
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => bail!("invalid --database-url: the value of {key:?} has no closing quote"),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

/// The CAs a server's certificate must chain to.
fn roots(root_cert: Option<&str>, mode: Mode) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if root_cert == Some("system") {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            bail!("sslrootcert=system: no CA certificate found in the system's store");
        }
        return Ok(roots);
    }
    let path = match root_cert {
        Some(path) => PathBuf::from(path),
        None => {
            let default = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql/root.crt"));
            match default {
                Some(path) if path.exists() => path,
                _ => bail!(
                    "sslmode={} checks the server's certificate: give the CA's certificate with sslrootcert=PATH (or sslrootcert=system)",
                    mode.name()
                ),
            }
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .with_context(|| format!("sslrootcert {}: cannot read PEM certificates", path.display()))?;
    if certs.is_empty() {
        bail!("sslrootcert {}: no certificate in the file", path.display());
    }
    for cert in certs {
        roots.add(cert).with_context(|| format!("sslrootcert {}: not a usable CA certificate", path.display()))?;
    }
    Ok(roots)
}

/// `sslmode=require`: encrypted, whoever the server is (the handshake's signatures are still
/// checked, so the session is with the certificate's holder).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain is checked, the name in the certificate is not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // the name is checked after the chain: a wrong name means the chain was good
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_ssl_options_are_left_as_they_are() {
        for url in ["postgres://u:p@h:5432/db", "postgres://u@h/db?application_name=x", "host=h user=u dbname=db"] {
            let (rest, ssl) = take_ssl_options(url).unwrap();
            assert!(ssl.mode.is_none() && ssl.root_cert.is_none());
            if url.starts_with("postgres") {
                assert_eq!(rest, url);
            }
        }
    }

    #[test]
    fn ssl_options_are_taken_out_of_urls_and_key_values() {
        let (rest, ssl) = take_ssl_options("postgres://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem").unwrap();
        assert_eq!(rest, "postgres://u@h/db?application_name=x");
        assert_eq!((ssl.mode.as_deref(), ssl.root_cert.as_deref()), (Some("verify-full"), Some("/tmp/ca.pem")));
        let (rest, ssl) = take_ssl_options("host=h  sslmode = verify-ca sslrootcert='/a b/c\\'s.pem' password='x y'").unwrap();
        assert_eq!(rest, "host='h' password='x y'");
        assert_eq!((ssl.mode.as_deref(), ssl.root_cert.as_deref()), (Some("verify-ca"), Some("/a b/c's.pem")));
        let config: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"x y"[..]));
        assert!(take_ssl_options("host=h sslmode='unclosed").is_err());
        assert!(take_ssl_options("postgres://h/db?sslcert=/c.pem").is_err());
    }

    #[test]
    fn modes_map_as_libpq_s_do() {
        let mode = |url: &str| settings(url).map(|(config, _, mode)| (mode, config.get_ssl_mode()));
        assert_eq!(mode("postgres://h/db").unwrap(), (Mode::Plain, SslMode::Disable));
        assert_eq!(mode("postgres://h/db?sslmode=prefer").unwrap(), (Mode::Plain, SslMode::Disable));
        assert_eq!(mode("postgres://h/db?sslmode=require").unwrap(), (Mode::Require, SslMode::Require));
        assert!(mode("postgres://h/db?sslmode=sometimes").unwrap_err().to_string().contains("sslmode=sometimes"));
        let missing = mode("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").unwrap_err();
        assert!(format!("{missing:#}").contains("/nonexistent/ca.pem"), "{missing:#}");
    }
}
