//! `elasticbeanstalk.environment`: an Elastic Beanstalk environment on the Docker platform.
//!
//! (Not yet implemented: the schema and provider are filled in next.)

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Ctx, Observed, Provider, ProviderError};
use crate::model::schema::{BASE, Schema};
use crate::model::{Kind, Props};

pub static SCHEMA: Schema = Schema { type_name: "elasticbeanstalk.environment", ..BASE };

/// The `elasticbeanstalk.environment` provider.
pub struct EbEnvironments {
    client: aws_sdk_elasticbeanstalk::Client,
}

impl EbEnvironments {
    pub fn new(client: aws_sdk_elasticbeanstalk::Client) -> Self {
        EbEnvironments { client }
    }
}

fn todo() -> ProviderError {
    ProviderError::Invalid("elasticbeanstalk.environment is not implemented yet".into())
}

#[async_trait]
impl Provider for EbEnvironments {
    fn kind(&self) -> Kind {
        Kind::EbEnvironment
    }
    async fn read_many(&self, _ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let _ = &self.client;
        Err(todo())
    }
    async fn find_tagged(&self, _stack: &str) -> Result<BTreeMap<String, Observed>, ProviderError> {
        Err(todo())
    }
    async fn create(&self, _ctx: &Ctx, _props: &Props) -> Result<Observed, ProviderError> {
        Err(todo())
    }
    async fn update(&self, _ctx: &Ctx, _id: &str, _b: &Props, _a: &Props) -> Result<Observed, ProviderError> {
        Err(todo())
    }
    async fn delete(&self, _ctx: &Ctx, _id: &str, _props: &Props) -> Result<(), ProviderError> {
        Err(todo())
    }
}
