//! Amazon S3 through aws-sdk-s3: the hub's Distributed Map writes its children's results
//! there (ResultWriter), and the digest reads them back.

use crate::errors::classify;
use async_trait::async_trait;
use watchdog_core::organisation::ResultStore;

pub struct S3Results {
    client: aws_sdk_s3::Client,
}

impl S3Results {
    pub fn new(sdk: &aws_types::SdkConfig) -> Self {
        // A local endpoint (LocalStack) serves buckets by path: "bucket.127.0.0.1" resolves to
        // nothing. Against AWS the SDK's virtual-hosted style stays.
        let local = sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(local).build();
        Self { client: aws_sdk_s3::Client::from_conf(config) }
    }
}

#[async_trait]
impl ResultStore for S3Results {
    async fn read(&self, bucket: &str, key: &str) -> Result<String, String> {
        let object = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("s3://{bucket}/{key}: {}", classify("GetObject", &e)))?;
        let bytes = object.body.collect().await.map_err(|e| format!("s3://{bucket}/{key}: {e}"))?.into_bytes();
        String::from_utf8(bytes.to_vec()).map_err(|e| format!("s3://{bucket}/{key} is not UTF-8: {e}"))
    }
}
