//! The local disk's bytes, moved by one blocking thread per request instead of object_store's
//! and tokio's buffering, each of which copies every byte once more.
//!
//! Uploads: object_store's multipart path gathers 8 MiB parts in memory and hands each to a
//! blocking task. Here the thread writes the body's chunks as they arrive, as many as are queued
//! per system call, to a staging file beside the object's; at the end its bytes and then its
//! rename into place are synced to disk, so the object appears whole and survives a crash once
//! the upload is answered, and it is removed if the upload fails or the request goes away. The
//! staging name is the object's with `#` and digits, as object_store names its own staging
//! files and skips them when listing.
//!
//! Downloads: tokio's file reads into a buffer of its own and copies out of it. Here the thread
//! reads 1 MiB at a time straight into the chunk the response sends.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, IoSlice, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use bytes::BytesMut;
use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use tokio::sync::mpsc;

use super::error::StorageError;
use super::upload::ByteStream;

/// Chunks queued for the writer (hyper's are at most ~400 KiB, so at most ~13 MiB per upload).
const QUEUE: usize = 32;

enum Message {
    Chunk(Bytes),
    /// every chunk was sent: rename the file into place
    Finish,
}

/// Write at most `limit` bytes of `stream` as the object at `key`; the number written.
pub async fn write(
    local: &LocalFileSystem,
    key: &object_store::path::Path,
    stream: &mut ByteStream,
    limit: u64,
) -> Result<u64, StorageError> {
    let dest = local.path_to_filesystem(key).map_err(StorageError::internal)?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer = tokio::task::spawn_blocking(move || write_file(&dest, rx));
    let mut total: u64 = 0;
    let sent: Result<(), StorageError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(StorageError::too_large());
            }
            if tx.send(Message::Chunk(chunk)).await.is_err() {
                return Ok(()); // the writer failed: it says why below
            }
        }
        let _ = tx.send(Message::Finish).await;
        Ok(())
    }
    .await;
    drop(tx); // without Finish, the writer removes its file
    let written = writer.await.map_err(StorageError::internal)?;
    sent?;
    written.map_err(StorageError::internal)?;
    Ok(total)
}

/// The writer thread: chunks from `rx` into a staging file, renamed to `dest` on Finish.
fn write_file(dest: &Path, mut rx: mpsc::Receiver<Message>) -> std::io::Result<()> {
    let (mut file, staging) = create_staging(dest)?;
    let result = (|| {
        let mut batch: Vec<Bytes> = Vec::with_capacity(QUEUE);
        loop {
            let mut finished = false;
            match rx.blocking_recv() {
                Some(Message::Chunk(chunk)) => batch.push(chunk),
                Some(Message::Finish) => finished = true,
                None => return Err(std::io::Error::new(ErrorKind::Interrupted, "the upload ended early")),
            }
            while !finished && batch.len() < QUEUE {
                match rx.try_recv() {
                    Ok(Message::Chunk(chunk)) => batch.push(chunk),
                    Ok(Message::Finish) => finished = true,
                    Err(_) => break,
                }
            }
            write_all(&mut file, &batch)?;
            batch.clear();
            if finished {
                // durable before the upload is answered: the bytes, then the name
                file.sync_data()?;
                drop(file);
                std::fs::rename(&staging, dest)?;
                return sync_dir(dest.parent());
            }
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    result
}

/// A new file `<dest>#<digits>`, creating the bucket's directory if it is the first object.
fn create_staging(dest: &Path) -> std::io::Result<(File, PathBuf)> {
    let mut attempt = std::process::id() as u64 * 1_000_000
        + (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos() as u64 % 1_000_000);
    loop {
        let mut name = dest.as_os_str().to_owned();
        name.push(format!("#{attempt}"));
        let staging = PathBuf::from(name);
        match OpenOptions::new().write(true).create_new(true).open(&staging) {
            Ok(file) => return Ok((file, staging)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => attempt += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => match dest.parent() {
                Some(dir) if !dir.exists() => create_dirs(dir)?,
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

/// Remove staging files (`<name>#<digits>`) not written to for `older_than`: what a crash left
/// in the middle of an upload, ours or object_store's (resumable parts). The number removed.
pub fn remove_stale_staging(local: &LocalFileSystem, older_than: std::time::Duration) -> usize {
    fn walk(dir: &Path, depth: u32, older_than: std::time::Duration) -> usize {
        let mut removed = 0;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let (path, Ok(kind)) = (entry.path(), entry.file_type()) else { continue };
            if kind.is_dir() && depth > 0 {
                removed += walk(&path, depth - 1, older_than);
                continue;
            }
            let name = entry.file_name();
            let staging =
                name.to_str().and_then(|n| n.rsplit_once('#')).is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let idle = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
            if kind.is_file() && staging && idle.is_some_and(|i| i > older_than) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }
    // the root is the parent of any top-level name (object_store refuses the empty path)
    match local.path_to_filesystem(&object_store::path::Path::from("x")) {
        Ok(top) => top.parent().map_or(0, |root| walk(root, 3, older_than)),
        Err(_) => 0,
    }
}

/// `dir` and whichever of its parents are missing, each one's name made durable in its parent.
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let existing = dir.ancestors().find(|a| a.exists()).map(Path::to_path_buf);
    std::fs::create_dir_all(dir)?;
    let Some(existing) = existing else { return Ok(()) };
    for created in dir.ancestors().take_while(|a| *a != existing) {
        sync_dir(created.parent())?;
    }
    Ok(())
}

/// fsync a directory, so that names created or renamed in it survive a crash.
fn sync_dir(dir: Option<&Path>) -> std::io::Result<()> {
    match dir {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// All of `chunks`, in as few writes as the kernel allows. Empty ones are left out (a form's
/// file field can yield one): a write of nothing but empty slices would return 0.
fn write_all(file: &mut File, chunks: &[Bytes]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice> = chunks.iter().filter(|c| !c.is_empty()).map(|c| IoSlice::new(c)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Downloads read this much per chunk; at most DOWNLOAD_QUEUE chunks wait for the socket.
const READ_CHUNK: usize = 1024 * 1024;
const DOWNLOAD_QUEUE: usize = 4;

/// The bytes `range` of an open file, as a response body.
pub fn body(mut file: File, range: std::ops::Range<u64>) -> Body {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(DOWNLOAD_QUEUE);
    tokio::task::spawn_blocking(move || {
        let mut left = range.end - range.start;
        if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        while left > 0 {
            let mut chunk = BytesMut::zeroed(left.min(READ_CHUNK as u64) as usize);
            let n = match fill(&mut file, &mut chunk) {
                Ok(0) => Err(std::io::Error::new(ErrorKind::UnexpectedEof, "the file is shorter than its object")),
                read => read,
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            chunk.truncate(n);
            left -= n as u64;
            if tx.blocking_send(Ok(chunk.freeze())).is_err() {
                return; // the client went away
            }
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) }))
}

/// Read until `buf` is full or the file ends: how many bytes were read.
fn fill(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
