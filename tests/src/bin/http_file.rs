//! `make bench`: a file up to or down from an HTTP/1.1 server by a client that reads and writes
//! 1 MiB at a time, as `cat` does, so the storage figures measure the server. (curl 7.88 writes
//! a download to its file 4-12 KiB at a time: 1 GiB takes it ~0.9 s even from file://, where
//! cat takes ~0.3 s. A curl figure mostly measures curl.)
//!
//! http_file get URL FILE [HEADER...]   the response body into FILE
//! http_file put URL FILE [HEADER...]   FILE as the request body
//! Exits non-zero, saying why, unless the answer is 2xx.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(method), Some(url), Some(path)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: http_file get|put URL FILE [HEADER...]");
        return ExitCode::from(2);
    };
    match run(method, url, path, &args[3..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_file: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(method: &str, url: &str, path: &str, headers: &[String]) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, target) = rest.split_once('/').map(|(h, t)| (h, format!("/{t}"))).unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut head = format!("{} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n", method.to_uppercase());
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    match method {
        "put" => {
            let mut file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
            let size = file.metadata().map_err(|e| e.to_string())?.len();
            head.push_str(&format!("Content-Length: {size}\r\n\r\n"));
            stream.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
            let sent = copy(&mut file, &mut stream).map_err(|e| format!("sending: {e}"))?;
            if sent != size {
                return Err(format!("sent {sent} of {size} bytes"));
            }
            let (status, _, mut reader) = response(stream)?;
            let mut body = String::new();
            let _ = reader.read_to_string(&mut body);
            if !(200..300).contains(&status) {
                return Err(format!("status {status}: {body}"));
            }
            Ok(())
        }
        "get" => {
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
            let (status, length, reader) = response(stream)?;
            if !(200..300).contains(&status) {
                return Err(format!("status {status}"));
            }
            let length = length.ok_or("the answer has no Content-Length")?;
            let mut file = File::create(path).map_err(|e| format!("{path}: {e}"))?;
            // what the header read buffered first, then the rest straight from the socket
            let buffered = reader.buffer().to_vec();
            file.write_all(&buffered).map_err(|e| e.to_string())?;
            let mut rest = reader.into_inner().take(length - buffered.len() as u64);
            let got = buffered.len() as u64 + copy(&mut rest, &mut file).map_err(|e| format!("receiving: {e}"))?;
            if got != length {
                return Err(format!("received {got} of {length} bytes"));
            }
            Ok(())
        }
        other => Err(format!("unknown method {other}")),
    }
}

/// Everything from `from` to `to`, 1 MiB at a time.
fn copy(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 1024 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buffer[..n])?;
        total += n as u64;
    }
}

/// The status line and headers: status, Content-Length, and the reader positioned at the body.
fn response(stream: TcpStream) -> Result<(u16, Option<u64>, BufReader<TcpStream>), String> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad status line {line:?}"))?;
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
        }
    }
    Ok((status, length, reader))
}
