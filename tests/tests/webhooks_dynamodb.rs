//! The webhook store conformance suite on the DynamoDB store, against DynamoDB Local.
leadpipe_tests::webhook_conformance_suite!(leadpipe_tests::dynamodb_store(Default::default()));
