//! `codepipeline.pipeline`: a CodePipeline pipeline: Source -> Build -> Deploy.
//!
//! (Not yet implemented: the schema and provider are filled in next.)

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Ctx, Observed, Provider, ProviderError};
use crate::model::schema::{BASE, Schema};
use crate::model::{Kind, Props};

pub static SCHEMA: Schema = Schema { type_name: "codepipeline.pipeline", ..BASE };

/// The `codepipeline.pipeline` provider.
pub struct Pipelines {
    client: aws_sdk_codepipeline::Client,
}

impl Pipelines {
    pub fn new(client: aws_sdk_codepipeline::Client) -> Self {
        Pipelines { client }
    }
}

fn todo() -> ProviderError {
    ProviderError::Invalid("codepipeline.pipeline is not implemented yet".into())
}

#[async_trait]
impl Provider for Pipelines {
    fn kind(&self) -> Kind {
        Kind::Pipeline
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
