//! Where the bytes live: any `object_store` backend. `file:///path` (the default is
//! `.bknd/storage` under the working directory) or `s3://bucket` (endpoint, region and
//! credentials from the usual AWS_* environment variables; AWS_ENDPOINT_URL for S3-compatible
//! services). An object's bytes are at `<bucket>/<version>`: a version is written once, so an
//! upload never changes bytes someone may be reading.

use std::sync::Arc;

use anyhow::Context;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;

pub type Store = Arc<dyn ObjectStore>;

/// The store, and the same store as a local file system when it is one (uploads to it take a
/// faster path: storage/local_file.rs).
pub fn open(url: Option<&str>) -> anyhow::Result<(Store, Option<Arc<LocalFileSystem>>)> {
    let url = url.unwrap_or("file://.bknd/storage");
    if let Some(dir) = url.strip_prefix("file://") {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the storage directory {dir}"))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("cannot use {dir} for storage"))?
            .with_automatic_cleanup(true)
            // what goes through object_store (resumable parts, copies) is durable once answered,
            // as local_file.rs makes uploads
            .with_fsync(true);
        let local = Arc::new(store);
        return Ok((local.clone(), Some(local)));
    }
    if let Some(bucket) = url.strip_prefix("s3://") {
        let bucket = bucket.trim_end_matches('/');
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            // S3-compatible services (MinIO, moto, R2) usually want path-style URLs
            builder = builder
                .with_endpoint(endpoint.clone())
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        return Ok((Arc::new(builder.build().context("cannot configure S3 storage")?), None));
    }
    anyhow::bail!("--storage must be file:///path or s3://bucket")
}

/// The key of an object version's bytes.
pub fn key(bucket: &str, version: &str) -> Path {
    Path::from(format!("{bucket}/{version}"))
}
