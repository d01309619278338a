//! Lambda entry point: wires `leads::router()` into the Lambda runtime (DynamoDB client built once).

#[tokio::main]
async fn main() -> Result<(), leadpipe_http::LambdaError> {
    leadpipe_http::run_lambda(leads::router()).await
}
