//! Data sources (the network, the platform image, the hosted zone): read by `aws::live`,
//! never created, changed or deleted, so every action here is a no-op.

use super::{KindOps, Tags};
use crate::aws::{Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct DataSource;

impl KindOps for DataSource {
    fn create<'a>(
        &'a self,
        _aws: &'a Aws,
        _resource: &'a Resource,
        _desired: &'a Attributes,
        _tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async { Ok(Attributes::new()) })
    }

    fn update<'a>(
        &'a self,
        _aws: &'a Aws,
        _resource: &'a Resource,
        _live: &'a LiveResource,
        _desired: &'a Attributes,
        _tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async { Ok(Attributes::new()) })
    }

    fn delete<'a>(
        &'a self,
        _aws: &'a Aws,
        _live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async { Ok(()) })
    }
}
