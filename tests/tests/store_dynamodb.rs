//! The conformance suite on the DynamoDB store, against DynamoDB Local.
leadpipe_tests::conformance_suite!(leadpipe_tests::leadpipe(leadpipe_tests::StoreKind::Dynamo));
leadpipe_tests::spend_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Dynamo
));
leadpipe_tests::accounts_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Dynamo
));
leadpipe_tests::audit_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Dynamo
));
leadpipe_tests::revenue_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Dynamo
));
leadpipe_tests::two_factor_conformance_suite!(leadpipe_tests::leadpipe(
    leadpipe_tests::StoreKind::Dynamo
));
