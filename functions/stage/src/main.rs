//! Lambda entry point: wires `stage::router()` into the Lambda runtime (DynamoDB client built once).

#[tokio::main]
async fn main() -> Result<(), leadpipe_http::LambdaError> {
    leadpipe_http::run_lambda(stage::router()).await
}
