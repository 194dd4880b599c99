//! Data sources (the network, the platform image, the hosted zone): read by `aws::live`,
//! never created, changed or deleted, so every action here is a no-op.

use super::{Desired, Kind};
use crate::aws::{Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct DataSource;

impl Kind for DataSource {
    async fn create(&self, _to: &Desired<'_>) -> Result<Attributes, AwsError> {
        Ok(Attributes::new())
    }

    async fn update(
        &self,
        _to: &Desired<'_>,
        _live: &LiveResource,
    ) -> Result<Attributes, AwsError> {
        Ok(Attributes::new())
    }

    async fn delete(&self, _aws: &Aws, _live: &LiveResource) -> Result<(), AwsError> {
        Ok(())
    }
}
