//! A minimal SMTP server for tests: what the sidecar mails, kept in memory.

/// A minimal SMTP server on 127.0.0.1 that keeps every message it receives (decoded from
/// quoted-printable), for reading the codes the sidecar mails.
pub struct MailSink {
    port: u16,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl MailSink {
    pub fn start() -> MailSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = mails.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || smtp_session(stream, &kept));
            }
        });
        MailSink { port, mails }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The `count`-th message to `to` (waiting up to 10 s for it).
    pub fn nth(&self, to: &str, count: usize) -> String {
        for _ in 0..200 {
            let to_them: Vec<String> = self.to(to);
            if to_them.len() >= count {
                return to_them[count - 1].clone();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no email #{count} for {to}; got {:?}", self.mails.lock().unwrap());
    }

    pub fn to(&self, to: &str) -> Vec<String> {
        let header = format!("to: {to}");
        self.mails.lock().unwrap().iter().filter(|m| m.to_lowercase().contains(&header)).cloned().collect()
    }
}

fn smtp_session(stream: std::net::TcpStream, mails: &std::sync::Mutex<Vec<String>>) {
    use std::io::{BufRead, BufReader, Write};
    let mut out = stream.try_clone().unwrap();
    let mut lines = BufReader::new(stream);
    let _ = out.write_all(b"220 sink ESMTP\r\n");
    let mut line = String::new();
    while lines.read_line(&mut line).unwrap_or(0) > 0 {
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "DATA" => {
                let _ = out.write_all(b"354 go on\r\n");
                let mut message = String::new();
                let mut l = String::new();
                while lines.read_line(&mut l).unwrap_or(0) > 0 && l != ".\r\n" {
                    message.push_str(l.strip_prefix('.').unwrap_or(&l));
                    l.clear();
                }
                mails.lock().unwrap().push(quoted_printable(&message));
                b"250 kept\r\n"
            }
            "QUIT" => {
                let _ = out.write_all(b"221 bye\r\n");
                return;
            }
            _ => b"250 sink\r\n",
        };
        let _ = out.write_all(reply);
        line.clear();
    }
}

pub fn quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
