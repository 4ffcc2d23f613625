//! The AWS Price List Query API, for `infra cost --update-prices`: each price
//! the table keeps by name (instance types, volume types, ElastiCache node
//! types, OpenSearch instance types) is read anew for each region of the
//! table; the rest of the table is kept as it was. The API lives in
//! us-east-1 (also eu-central-1 and ap-south-1) whatever region it prices.

use aws_config::SdkConfig;
use aws_sdk_pricing::types::{Filter, FilterType};

use super::{ProviderError, aws_error};
use crate::cost::PriceTable;
use crate::cost::pricelist::product;

/// The region the Price List Query API is called in.
pub const API_REGION: &str = "us-east-1";

/// What to ask for one price: the service, the filters, and the attribute
/// naming the product.
struct Query {
    service: &'static str,
    filters: Vec<(&'static str, String)>,
    key: &'static str,
}

/// `table` with each named price read anew from the Price List Query API.
/// A price the API does not return is an error naming it.
pub async fn update(config: &SdkConfig, table: &PriceTable, today: &str) -> Result<PriceTable, ProviderError> {
    let conf = aws_sdk_pricing::config::Builder::from(config).region(aws_config::Region::new(API_REGION)).build();
    let client = aws_sdk_pricing::Client::from_conf(conf);
    let mut updated = table.clone();
    for (region, prices) in updated.regions.iter_mut() {
        let at = |extra: Vec<(&'static str, String)>| {
            let mut filters = vec![("regionCode", region.clone())];
            filters.extend(extra);
            filters
        };
        for (ty, price) in prices.ec2_instance_hour.iter_mut() {
            let filters = at(vec![
                ("instanceType", ty.clone()),
                ("operatingSystem", "Linux".into()),
                ("tenancy", "Shared".into()),
                ("preInstalledSw", "NA".into()),
                ("capacitystatus", "Used".into()),
            ]);
            *price = one(&client, Query { service: "AmazonEC2", filters, key: "instanceType" }, ty).await?;
        }
        for (ty, price) in prices.ebs_gb_month.iter_mut() {
            let filters = at(vec![("volumeApiName", ty.clone()), ("productFamily", "Storage".into())]);
            *price = one(&client, Query { service: "AmazonEC2", filters, key: "volumeApiName" }, ty).await?;
        }
        for (ty, price) in prices.elasticache_node_hour.iter_mut() {
            let filters = at(vec![("instanceType", ty.clone()), ("cacheEngine", "Redis".into())]);
            *price = one(&client, Query { service: "AmazonElastiCache", filters, key: "instanceType" }, ty).await?;
        }
        for (ty, price) in prices.opensearch_instance_hour.iter_mut() {
            let filters = at(vec![("instanceType", ty.clone())]);
            *price = one(&client, Query { service: "AmazonES", filters, key: "instanceType" }, ty).await?;
        }
    }
    updated.as_of = today.to_string();
    updated.source = format!(
        "AWS Price List Query API ({API_REGION}), on-demand; read by `infra cost --update-prices`. \
         Kept from the shipped table: OpenSearch storage, CodeBuild, CodePipeline, S3 and load balancer prices."
    );
    Ok(updated)
}

/// The on-demand price of the product `name` that `query` selects.
async fn one(client: &aws_sdk_pricing::Client, query: Query, name: &str) -> Result<f64, ProviderError> {
    let mut request = client.get_products().service_code(query.service).max_results(100);
    for (field, value) in &query.filters {
        let filter = Filter::builder()
            .r#type(FilterType::TermMatch)
            .field(*field)
            .value(value)
            .build()
            .map_err(|e| ProviderError::Invalid(e.to_string()))?;
        request = request.filters(filter);
    }
    let out = request.send().await.map_err(|e| aws_error("GetProducts", e))?;
    for document in out.price_list() {
        if let Some(p) = product(document, query.key).map_err(ProviderError::Invalid)?
            && p.key == name
            && p.usd > 0.0
        {
            return Ok(p.usd);
        }
    }
    Err(ProviderError::Invalid(format!("the Price List API has no on-demand price for {} `{name}`", query.service)))
}
